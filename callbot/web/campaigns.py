"""The campaign pages (issue 16): the list, one campaign live, its CSV, start and pause.

Who sees what: ``ops`` sees the list and a campaign's progress — totals, and per person the
line, a masked number (« 06 •• •• •• 78 »), status and tries, never a name; the ``campaigns``
role (a CCAS agent) and ``admin`` also see the names, create campaigns
(``callbot.web.campaign_new``), export the results and start or pause a run. Pages with
people on them are not cached by the browser; start and pause are audited with who and which
campaign, never a number or a name.

A run started here is a ``CampaignRunner`` task of the web process over the dialer the app was
given (``CAMPAIGN_DIALER``, a function of the settings returning an async context manager of a
``Dialer``, as ``callbot campaign run --dialer`` takes). Without one (the default: the web app
places no calls of its own yet), the page says to run ``callbot campaign run <id>``. Pausing
places no new call (the dialer answers "no line", which is not a try), lets the calls in
progress end, then stops the run (``paused``); a start resumes it. Stopping the app cancels
its runs: calls in progress are hung up, and the next start finds those people
``interrupted`` (a callback task for an agent, never called twice: the runner's restart rule).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

import aiohttp_jinja2
from aiohttp import web
from loguru import logger

from callbot.campaigns import wording
from callbot.campaigns.call_driver import context_for
from callbot.campaigns.dialer import DialOutcome, DialResult
from callbot.campaigns.dialogue import OutboundState, PersonAnswered, Speak, decide
from callbot.campaigns.model import ContactStatus
from callbot.campaigns.phones import national
from callbot.config import Settings
from callbot.store.accounts import audit
from callbot.store.campaigns import (
    FINISHED,
    RUNNING,
    CampaignRow,
    Person,
    get_campaign,
    list_campaigns,
    people_status,
    set_status,
    status_counts,
)
from callbot.web.auth import redirect, requires, session_of
from callbot.web.dashboard import LIVE_REFRESH_SEC, local_now
from callbot.web.keys import AUDIO_PREVIEW, ENGINE, SETTINGS

PAUSED = "paused"
DialerFactory = Callable[[Settings], AbstractAsyncContextManager[object]]
#: The dialer runs started from the page use; ``None``: runs are started on the command line.
CAMPAIGN_DIALER = web.AppKey("campaign_dialer", DialerFactory | None)  # type: ignore[arg-type]
#: Campaign id → its ``Run`` in this process.
RUNS = web.AppKey("campaign_runs", dict)
MAX_ID = 2**31 - 1
PAUSE_WAIT_SEC = 600.0  # a pause waits this long at most for the calls in progress

#: The page's totals: French label → the final statuses it counts.
TOTALS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Joints", frozenset({"fine", "yes", "no", "delivered", "transferred", "callback",
                          "opted_out", "hung_up", "no_reply", "interrupted"})),
    ("Tout va bien", frozenset({"fine", "yes", "delivered"})),
    ("Besoin d'aide", frozenset({"transferred", "callback", "interrupted"})),
    ("Sans réponse", frozenset({"no_answer", "no_reply", "failed"})),
    ("Répondeur", frozenset({"voicemail"})),
    ("Refus", frozenset({"opted_out", "excluded", "hung_up"})),
)
STATUS_WORDS = {
    "pending": "à appeler", "dialing": "appel en cours", "in_call": "en ligne",
    "fine": "tout va bien", "yes": "a répondu oui", "no": "a répondu non",
    "delivered": "message entendu", "transferred": "passé à un agent",
    "callback": "à rappeler par un agent", "opted_out": "ne veut plus être appelé",
    "hung_up": "a raccroché", "no_reply": "pas de réponse à la question",
    "voicemail": "répondeur", "no_answer": "pas de réponse", "failed": "numéro en échec",
    "excluded": "liste d'opposition", "interrupted": "appel coupé : à rappeler",
}
CAMPAIGN_WORDS = {"ready": "prête", RUNNING: "en cours", PAUSED: "suspendue", FINISHED: "terminée"}
KIND_WORDS = {"heatwave": "Canicule : tout va bien ?", "reminder": "Rappel",
              "question": "Message et une question"}


def masked(phone: str) -> str:
    """'+33612345678' → '06 •• •• •• 78': enough to tell two people apart, not to call them."""
    digits = national(phone).split()
    if len(digits) < 3:
        return "••"
    return " ".join([digits[0], *("••" for _ in digits[1:-1]), digits[-1]])


def totals(counts: dict[str, int]) -> list[tuple[str, int]]:
    return [(label, sum(n for status, n in counts.items() if status in statuses))
            for label, statuses in TOTALS]


def spoken_opening(campaign: CampaignRow, person: Person) -> list[str]:
    """What the bot says to this person once they answer, sentence by sentence: the
    dialogue's own first decision, so the preview cannot drift from the call."""
    ctx = context_for(campaign, person, leave_voicemail=False, listen_sec=6.0)
    _, actions = decide(OutboundState(), PersonAnswered(), datetime(2000, 1, 1), ctx)
    return [a.text for a in actions if isinstance(a, Speak)]


def words(request: web.Request) -> dict:
    return {"status_words": STATUS_WORDS, "campaign_words": CAMPAIGN_WORDS,
            "kind_words": KIND_WORDS, "running_here": set(request.app[RUNS]),
            "pausing_here": {i for i, run in request.app[RUNS].items() if run.pause},
            "can_run": request.app[CAMPAIGN_DIALER] is not None}


def _no_store(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


async def _campaign(request: web.Request) -> CampaignRow:
    campaign_id = int(request.match_info["campaign_id"])
    campaign = None if campaign_id > MAX_ID else await get_campaign(request.app[ENGINE], campaign_id)
    if campaign is None:
        raise web.HTTPNotFound(text="no such campaign")
    return campaign


@requires("ops")
async def campaigns_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    rows = [(c, totals(counts := await status_counts(engine, c.id)), sum(counts.values()))
            for c in await list_campaigns(engine)]
    return aiohttp_jinja2.render_template("campaigns.html", request,
                                          {"rows": rows, "labels": [t[0] for t in TOTALS],
                                           **words(request)})


@requires("ops")
async def campaign_page(request: web.Request) -> web.Response:
    campaign, engine = await _campaign(request), request.app[ENGINE]
    counts = await status_counts(engine, campaign.id)
    names = session_of(request).user.can("campaigns")
    people = [(line, name if names else "", masked(phone), status, attempts)
              for line, name, phone, status, attempts in await people_status(engine, campaign.id)]
    example = Person(0, "Madame Martin" if names else "", "", {f: f"[{f}]" for f in campaign.fields})
    response = aiohttp_jinja2.render_template("campaign.html", request, {
        "campaign": campaign, "totals": totals(counts), "people": people, "names": names,
        "people_count": sum(counts.values()), "now": local_now(request),
        "active": sum(counts.get(s, 0) for s in (ContactStatus.DIALING, ContactStatus.IN_CALL)),
        "refresh_sec": LIVE_REFRESH_SEC, "opening": spoken_opening(campaign, example),
        "voicemail": wording.voicemail(campaign.kind, campaign.town,
                                       national(campaign.callback_number)),
        "audio": request.app[AUDIO_PREVIEW] is not None, **words(request)})
    return _no_store(response)


@requires("campaigns")
async def campaign_csv(request: web.Request) -> web.StreamResponse:
    campaign = await _campaign(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ligne", "nom", "numéro", "statut", "code", "essais"])
    for line, name, phone, status, attempts in await people_status(request.app[ENGINE], campaign.id):
        writer.writerow([line, name, masked(phone), STATUS_WORDS.get(status, status), status, attempts])
    await audit(request.app[ENGINE], session_of(request).user.username, "campaign.export",
                f"campaign {campaign.id}")
    return _no_store(web.Response(
        body=out.getvalue().encode("utf-8-sig"), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="campagne-{campaign.id}.csv"'}))


@requires("campaigns")
async def campaign_audio(request: web.Request) -> web.StreamResponse:
    """The opening as the bot's voice says it: the FAQ editor's synthesizer (``AUDIO_PREVIEW``)."""
    synthesize = request.app[AUDIO_PREVIEW]
    if synthesize is None:
        raise web.HTTPNotImplemented(text="audio preview needs a Piper voice (callbot.speech)")
    campaign = await _campaign(request)
    example = Person(0, "Madame Martin", "", {f: f"[{f}]" for f in campaign.fields})
    wav = await synthesize(" ".join(spoken_opening(campaign, example)))
    return _no_store(web.Response(body=wav, content_type="audio/wav"))


class _Gate:
    """The dialer, or, once the campaign is paused, no line for a new call: the scheduler
    keeps the person ``pending`` (a call not placed is not a try) while the calls in
    progress end as they would."""

    def __init__(self, dialer: object) -> None:
        self.dialer, self.closed = dialer, False

    async def dial(self, number: str, caller_id: str | None = None) -> object:
        if self.closed:
            return DialResult(DialOutcome.FAILED, "campaign paused", placed=False)
        return await self.dialer.dial(number, caller_id)  # type: ignore[attr-defined]


@dataclass
class Run:
    """A campaign's run in this process."""

    task: asyncio.Task[None] | None = None
    gate: _Gate | None = None
    calls: Callable[[], int] = lambda: 0  # calls in progress (claimed, ringing or answered)
    pause: asyncio.Task[None] | None = None  # under way: waiting for the calls to end


async def _run(app: web.Application, campaign: CampaignRow, factory: DialerFactory, run: Run) -> None:
    from callbot.campaigns.runner import CampaignRunner, RunnerParams, WallClock

    settings = app[SETTINGS]
    try:
        async with factory(settings) as dialer:
            run.gate = _Gate(dialer)
            runner = CampaignRunner(app[ENGINE], campaign, run.gate, RunnerParams(),  # type: ignore[arg-type]
                                    WallClock(settings.timezone, settings.fixed_now))
            run.calls = lambda: len(runner.calls)
            await runner.run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the page shows the campaign as it was left; the log says why
        logger.warning(f"campaign {campaign.id}: the run stopped ({type(exc).__name__})")
    finally:
        if app[RUNS].get(campaign.id) is run:
            del app[RUNS][campaign.id]


@requires("campaigns")
async def campaign_start(request: web.Request) -> web.StreamResponse:
    campaign, app = await _campaign(request), request.app
    factory = app[CAMPAIGN_DIALER]
    if factory is None:
        raise web.HTTPConflict(text=f"this web app places no calls: run `callbot campaign run "
                                    f"{campaign.id}` on the server")
    if campaign.status == FINISHED:
        raise web.HTTPConflict(text="this campaign is finished")
    if campaign.id not in app[RUNS]:
        run = app[RUNS][campaign.id] = Run()
        run.task = asyncio.create_task(_run(app, campaign, factory, run),
                                       name=f"campaign-{campaign.id}-web")
        await audit(app[ENGINE], session_of(request).user.username, "campaign.start",
                    f"campaign {campaign.id}")
    return redirect(f"/campaigns/{campaign.id}")


async def _pause(app: web.Application, campaign_id: int, run: Run, now: datetime) -> None:
    """No new call; once the calls in progress are over, the run stops, ``paused``."""
    if run.gate is not None:
        run.gate.closed = True
    for _ in range(int(PAUSE_WAIT_SEC / 0.2)):  # a call lasts a few minutes at most
        if not run.calls():
            break
        await asyncio.sleep(0.2)
    if run.task is not None:
        run.task.cancel()
        await asyncio.gather(run.task, return_exceptions=True)
    app[RUNS].pop(campaign_id, None)
    campaign = await get_campaign(app[ENGINE], campaign_id)
    if campaign is not None and campaign.status != FINISHED:
        await set_status(app[ENGINE], campaign_id, PAUSED, now)


@requires("campaigns")
async def campaign_pause(request: web.Request) -> web.StreamResponse:
    campaign, app = await _campaign(request), request.app
    run = app[RUNS].get(campaign.id)
    if run is not None and run.pause is None:
        run.pause = asyncio.create_task(_pause(app, campaign.id, run, local_now(request)),
                                        name=f"campaign-{campaign.id}-pause")
        await audit(app[ENGINE], session_of(request).user.username, "campaign.pause",
                    f"campaign {campaign.id}")
    return redirect(f"/campaigns/{campaign.id}")


async def stop_runs(app: web.Application) -> None:
    """On the app's way out: every run of this process cancelled (resumed by the next start)."""
    tasks = [t for run in app[RUNS].values() for t in (run.pause, run.task) if t is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def setup(app: web.Application, dialer: DialerFactory | None = None) -> None:
    app[CAMPAIGN_DIALER] = dialer
    app[RUNS] = {}
    app.on_shutdown.append(stop_runs)


def routes() -> list[web.RouteDef]:
    one = r"/campaigns/{campaign_id:\d{1,10}}"
    return [web.get("/campaigns", campaigns_page),
            web.get(one, campaign_page),
            web.get(one + ".csv", campaign_csv),
            web.post(one + "/audio", campaign_audio),
            web.post(one + "/start", campaign_start),
            web.post(one + "/pause", campaign_pause)]
