"""Ops pages: the dashboard, the call list with filters, one call's story, the CSV export.

Every page names topics, outcomes and actions in French (``callbot.web.wording``); the
dashboard's figures count phone calls only, the call list shows test calls on demand.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from callbot.config import Settings
from callbot.kb.model import KnowledgeBase
from callbot.nlu.intents import TOPIC_INTENTS
from callbot.problems import DataError
from callbot.store import queries
from callbot.store.rollups import TEST_CHANNELS
from callbot.web.auth import requires
from callbot.web.charts import bar_chart, legend, stacked_days
from callbot.web.inbox import group_sentences
from callbot.web.keys import EDITOR, ENGINE, SETTINGS
from callbot.web.wording import OUTCOMES, Wording

CALL_KINDS = {queries.PHONE: "appels téléphoniques", queries.TESTS: "appels de test",
              queries.ALL: "tous les appels"}
CSV_COLUMNS = ("id", "channel", "started_at", "ended_at", "duration_sec", "outcome",
               "transfer_reason", "caller")
PAGE_SIZE = 50
LIVE_REFRESH_SEC = 5
INBOX_SENTENCES = 200  # the most frequent not-understood sentences the inbox groups


def local_today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def today(request: web.Request) -> date:
    return local_today(request.app[SETTINGS])


def local_now(request: web.Request) -> datetime:
    """Naive local time of the town, as the call log stores times."""
    return datetime.now(ZoneInfo(request.app[SETTINGS].timezone)).replace(tzinfo=None)


#: Dates a filter may name: far enough apart for any call log, and no overflow at ±30 days.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
MAX_PAGE = 1_000_000


def _day(value: str | None, default: date) -> date:
    try:
        day = date.fromisoformat(value) if value else default
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"not a date (YYYY-MM-DD): {value!r}") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise web.HTTPBadRequest(text=f"date out of range ({FIRST_DAY} to {LAST_DAY}): {value!r}")
    return day


def call_filter(request: web.Request, default_days: int = 7) -> queries.CallFilter:
    """The filter the query string asks for; the last ``default_days`` days by default."""
    query = request.query
    last = _day(query.get("to"), today(request))
    first = _day(query.get("from"), last - timedelta(days=default_days - 1))
    if first > last:
        raise web.HTTPBadRequest(text="'from' is after 'to'")
    outcome = query.get("outcome") or None
    if outcome and outcome not in OUTCOMES:
        raise web.HTTPBadRequest(text=f"outcome must be one of {', '.join(OUTCOMES)}")
    channel = query.get("channel") or None
    # a test channel asked by name is shown, whatever the kind (it would list nothing)
    kind = query.get("kind") or (queries.ALL if channel in TEST_CHANNELS else queries.PHONE)
    if kind not in queries.KINDS:
        raise web.HTTPBadRequest(text=f"kind must be one of {', '.join(queries.KINDS)}")
    return queries.CallFilter(first, last, outcome, channel, query.get("intent") or None, kind)


async def _knowledge_base(request: web.Request) -> KnowledgeBase | None:
    """The topics' titles come from it; ``None`` while its files cannot be read."""
    try:
        return await asyncio.to_thread(request.app[EDITOR].current)
    except DataError:  # broken from the start: code names, and the editor says why
        return None


async def _words(request: web.Request) -> Wording:
    return Wording.of(await _knowledge_base(request))


@requires("ops")
@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict:
    engine = request.app[ENGINE]
    period = call_filter(request)
    figures = await queries.overview(engine, today(request), period.first_day, period.last_day)
    quiet = not (figures.today.calls or figures.period.calls or any(d["total"] for d in
                                                                      figures.trend))
    phone_calls, test_calls = await queries.calls_logged(engine) if quiet else (True, False)
    return {
        "period": period,
        "first_call": not phone_calls,  # nothing to chart yet: how to place a first call
        "test_calls": test_calls,
        "today": figures.today,
        "stats": figures.period,
        "trend_svg": stacked_days(figures.trend),
        "legend": legend(),
        "hours_svg": bar_chart([f"{h}h" for h in range(24)], figures.hours),
        "topics": figures.topics,
        "not_understood": await queries.not_understood(engine, period.first_day,
                                                       period.last_day, 20),
        "words": await _words(request),
    }


@requires("ops")
async def live(request: web.Request) -> web.Response:
    """Calls in progress, a small page that reloads itself (the dashboard frames it)."""
    now = local_now(request)
    response = aiohttp_jinja2.render_template("live.html", request, {
        "live": await queries.calls_in_progress(request.app[ENGINE], now), "now": now,
        "refresh_sec": LIVE_REFRESH_SEC, "words": await _words(request),
        "test_channels": TEST_CHANNELS})
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@requires("ops")
@aiohttp_jinja2.template("calls.html")
async def call_list(request: web.Request) -> dict:
    where = call_filter(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError as exc:
        raise web.HTTPBadRequest(text="page must be a number") from exc
    if page > MAX_PAGE:
        raise web.HTTPBadRequest(text=f"page must be at most {MAX_PAGE}")
    engine = request.app[ENGINE]
    rows = await queries.list_calls(engine, where, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    words = await _words(request)
    asked = [where.intent] if where.intent and where.intent not in words.titles else []
    return {"where": where, "calls": rows[:PAGE_SIZE], "page": page,
            "more": len(rows) > PAGE_SIZE, "channels": await queries.channels(engine, where),
            "outcomes": OUTCOMES, "kinds": CALL_KINDS, "test_channels": TEST_CHANNELS,
            "topics": words.topics([*words.titles, *asked]), "words": words,
            "query": dict(request.query)}


@requires("ops")
@aiohttp_jinja2.template("call.html")
async def call_view(request: web.Request) -> dict:
    found = await queries.call_detail(request.app[ENGINE], request.match_info["call_id"])
    if found is None:
        raise web.HTTPNotFound(text="no such call")
    call, steps = found
    return {"call": call, "steps": steps, "words": await _words(request),
            "test_channels": TEST_CHANNELS}


@requires("ops")
@aiohttp_jinja2.template("not_understood.html")
async def not_understood(request: web.Request) -> dict:
    """The sentences, grouped by likeness; an editor turns a group into a topic or into
    questions of a topic that lives in a topic file."""
    where = call_filter(request, default_days=30)
    rows = await queries.not_understood(request.app[ENGINE], where.first_day, where.last_day,
                                        INBOX_SENTENCES)
    groups = await asyncio.to_thread(group_sentences, rows)
    kb = await _knowledge_base(request)
    words = Wording.of(kb)
    takes_questions: list[tuple[str, str]] = []
    if kb is not None:
        main_file = str(kb.files[0]) if kb.files else ""
        takes_questions = sorted(((t.id, t.label) for t in kb.topics.values()
                                  if t.source and t.source != main_file), key=lambda t: t[1])
    examples_of = [i for i in TOPIC_INTENTS if i in words.titles]  # the classifier's topics
    return {"where": where, "rows": rows, "groups": groups, "intents": words.topics(examples_of),
            "question_topics": takes_questions, "words": words}


@requires("ops")
async def export_csv(request: web.Request) -> web.StreamResponse:
    where = call_filter(request)
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="calls-{where.first_day}-{where.last_day}.csv"'})
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for row in queries.stream_calls(request.app[ENGINE], where):
        writer.writerow([row[c] if row[c] is not None else "" for c in CSV_COLUMNS])
        if buffer.tell() > 64_000:
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


def routes() -> list[web.RouteDef]:
    return [web.get("/", dashboard), web.get("/live", live), web.get("/calls", call_list),
            web.get("/calls/export.csv", export_csv), web.get("/calls/{call_id}", call_view),
            web.get("/not-understood", not_understood)]
