"""What the dashboard asks of the call log, in portable SQL (SQLite and PostgreSQL).

Days and hours are stored per call; the period figures come from daily rollups
(``callbot.store.rollups``), so a month costs a few thousand small rows, not every turn.
The figures count phone calls only; the call list shows test calls when asked (``kind``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.nlu.intents import DIALOGUE_INTENTS, NLU_FALLBACK, is_topic
from callbot.store import rollups
from callbot.store.rollups import is_test_call
from callbot.store.schema import NOT_UNDERSTOOD_SQL, calls, line_events, turns

STALE_CALL_SEC = 2 * 3600  # a call "in progress" for longer died with its process
#: Which calls a list shows: the phone's (what the figures count), the tests, or all.
PHONE, TESTS, ALL = "phone", "test", "all"
KINDS = (PHONE, TESTS, ALL)


@dataclass(frozen=True)
class CallFilter:
    first_day: date
    last_day: date
    outcome: str | None = None
    channel: str | None = None
    intent: str | None = None
    kind: str = PHONE

    def where(self) -> list:
        clauses = [calls.c.day >= self.first_day.isoformat(),
                   calls.c.day <= self.last_day.isoformat()]
        if self.kind == PHONE:
            clauses.append(~is_test_call(calls.c.channel))
        elif self.kind == TESTS:
            clauses.append(is_test_call(calls.c.channel))
        if self.outcome == "in_progress":
            clauses.append(calls.c.outcome.is_(None))
        elif self.outcome:
            clauses.append(calls.c.outcome == self.outcome)
        if self.channel:
            clauses.append(calls.c.channel == self.channel)
        if self.intent:
            clauses.append(calls.c.id.in_(select(turns.c.call_id).where(
                turns.c.intent == self.intent, *_turns_in(self.first_day, self.last_day))))
        return clauses


@dataclass
class PeriodStats:
    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    median_duration_sec: float | None = None
    under_two_minutes: float | None = None  # share of ended calls
    p95_turn_latency_ms: float | None = None

    def share(self, outcome: str) -> float | None:
        return self.outcomes.get(outcome, 0) / self.calls if self.calls else None

    @property
    def contained(self) -> float | None:
        """Calls the bot settled on its own."""
        return self.share("resolved")


def _stats(counts: rollups.Counts) -> PeriodStats:
    outcomes = dict(counts["outcome"])
    ended = sum(n for k, n in outcomes.items() if k != "in_progress")
    return PeriodStats(
        calls=sum(outcomes.values()), outcomes=outcomes,
        median_duration_sec=counts.percentile("duration", rollups.DURATION_BUCKET_SEC, 0.5),
        under_two_minutes=counts["short"][""] / ended if ended else None,
        p95_turn_latency_ms=counts.percentile("latency", rollups.LATENCY_BUCKET_MS, 0.95),
    )


@dataclass
class Overview:
    """Everything the dashboard shows about today, a period and the last 30 days."""

    today: PeriodStats
    period: PeriodStats
    trend: list[dict]  # one row per day of the 30 up to the period's end
    hours: list[int]  # calls per local hour over the period
    intents: list[tuple[str, int]]  # most frequent intents over the period, dialogue acts too
    topics: list[tuple[str, int]]  # most asked topics: no greeting, goodbye, fallback…


async def overview(engine: AsyncEngine, today: date, first_day: date, last_day: date,
                   trend_days: int = 30, top: int = 12) -> Overview:
    """One connection; the days that are over summed from the rollups, today counted live
    once."""
    trend_first = last_day - timedelta(days=trend_days - 1)
    async with engine.connect() as connection:
        today_rows = await rollups.count_days(connection, today, today)
        period = rollups.Counts(await rollups.period_rows(connection, first_day, last_day,
                                                          today, today_rows))
        per_day = rollups.by_day(await rollups.day_rows(
            connection, trend_first, last_day, today, "outcome", today_rows), "outcome")
    trend = []
    for i in range(trend_days):
        day = (trend_first + timedelta(days=i)).isoformat()
        trend.append({"day": day, "total": sum(per_day[day].values()), **per_day[day]})
    return Overview(
        today=_stats(rollups.Counts(today_rows)), period=_stats(period), trend=trend,
        hours=[period["hour"][str(h)] for h in range(24)],
        intents=period["intent"].most_common(top),
        topics=[(i, n) for i, n in period["intent"].most_common() if is_topic(i)][:top],
    )


async def calls_logged(engine: AsyncEngine) -> tuple[bool, bool]:
    """Whether the log holds any phone call, and any test call: the dashboard's empty state."""
    async with engine.connect() as connection:
        found = await connection.execute(select(exists().where(~is_test_call(calls.c.channel)),
                                                exists().where(is_test_call(calls.c.channel))))
        phone, test = found.one()
    return bool(phone), bool(test)


def _topic_of_call(last: bool = False) -> ColumnElement:
    """The call's first (or latest) topic: what it was about, for a list row."""
    seq = turns.c.seq.desc() if last else turns.c.seq
    return (select(turns.c.intent).where(turns.c.call_id == calls.c.id,
                                         turns.c.intent.notin_((*DIALOGUE_INTENTS, NLU_FALLBACK)))
            .order_by(seq).limit(1).correlate(calls).scalar_subquery())


async def calls_in_progress(engine: AsyncEngine, now: datetime) -> list[dict]:
    turn_count = (select(func.count()).where(turns.c.call_id == calls.c.id)
                  .correlate(calls).scalar_subquery())
    query = (select(calls.c.id, calls.c.channel, calls.c.started_at, turn_count.label("turns"),
                    _topic_of_call(last=True).label("topic"))
             .where(calls.c.outcome.is_(None),
                    calls.c.started_at > now - timedelta(seconds=STALE_CALL_SEC))
             .order_by(calls.c.started_at.desc()).limit(100))
    async with engine.connect() as connection:
        return [dict(r._mapping) for r in await connection.execute(query)]


def _turns_in(first_day: date, last_day: date) -> list:
    return [turns.c.at >= datetime.combine(first_day, datetime.min.time()),
            turns.c.at < datetime.combine(last_day + timedelta(days=1), datetime.min.time())]


async def not_understood(engine: AsyncEngine, first_day: date, last_day: date,
                         limit: int = 50) -> list[dict]:
    """Caller sentences that led to a fallback, a clarification or a transfer, grouped."""
    sentence = func.lower(turns.c.caller_text)
    query = (select(sentence.label("text"), func.count().label("n"),
                    func.max(turns.c.intent).label("intent"), func.max(turns.c.call_id).label("call_id"))
             .where(*_turns_in(first_day, last_day), turns.c.caller_text.isnot(None),
                    turns.c.caller_text != "", ~turns.c.caller_text.startswith("<"),
                    text(NOT_UNDERSTOOD_SQL))
             .group_by(sentence).order_by(func.count().desc(), sentence).limit(limit))
    async with engine.connect() as connection:
        return [dict(r._mapping) for r in await connection.execute(query)]


def _call_list_query(where: CallFilter) -> Select:
    return select(calls).where(and_(*where.where())).order_by(calls.c.started_at.desc())


async def list_calls(engine: AsyncEngine, where: CallFilter, limit: int = 50,
                     offset: int = 0) -> list[dict]:
    """A page of the call list, each call with the first topic asked in it."""
    query = _call_list_query(where).add_columns(_topic_of_call().label("topic"))
    async with engine.connect() as connection:
        rows = await connection.execute(query.limit(limit).offset(offset))
        return [dict(r._mapping) for r in rows]


async def stream_calls(engine: AsyncEngine, where: CallFilter,
                       limit: int = 200_000) -> AsyncIterator[dict]:
    """All matching calls for the CSV export, without holding them all in memory."""
    async with engine.connect() as connection:
        result = await connection.stream(_call_list_query(where).limit(limit))
        async for row in result:
            yield dict(row._mapping)


async def call_detail(engine: AsyncEngine, call_id: str) -> tuple[dict, list[dict]] | None:
    """The call and its timeline: turns and line events in the order they happened."""
    async with engine.connect() as connection:
        call = (await connection.execute(calls.select().where(calls.c.id == call_id))).first()
        if call is None:
            return None
        steps = [{"kind": "turn", **dict(r._mapping)} for r in await connection.execute(
            turns.select().where(turns.c.call_id == call_id))]
        steps += [{"kind": "event", **dict(r._mapping)} for r in await connection.execute(
            line_events.select().where(line_events.c.call_id == call_id))]
    return dict(call._mapping), sorted(steps, key=lambda s: (s["seq"], s["at"]))


async def channels(engine: AsyncEngine, where: CallFilter) -> list[str]:
    """The channels calls came by in the filter's days (the day index, not every call)."""
    days = CallFilter(where.first_day, where.last_day, kind=ALL).where()
    async with engine.connect() as connection:
        found = [c for (c,) in await connection.execute(
            select(calls.c.channel).where(*days).distinct())]
    return sorted({*found, *([where.channel] if where.channel else [])})


async def outcome_totals(engine: AsyncEngine) -> dict[str, int]:
    """Counters for /metrics, since the beginning of the log."""
    async with engine.connect() as connection:
        rows = await connection.execute(select(calls.c.outcome, func.count())
                                        .group_by(calls.c.outcome))
        return {outcome or "in_progress": n for outcome, n in rows}
