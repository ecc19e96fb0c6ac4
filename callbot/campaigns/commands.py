"""``callbot campaign import|status|run|purge|dnc``: campaigns from the command line.

``import`` reads a list, reports each row it leaves out with its line and reason, and stores
the rest as a new campaign (exit 0: all rows kept, 1: some left out, 2: nothing could be read).
``run`` calls until every person is in a final status, over the dialer that
``--dialer module:function`` gives (``function(settings)`` returns an async context manager
yielding a ``Dialer``; the default is the SIP endpoint's); ``run --dry-run`` only says what
would happen now. Heavy imports stay inside the commands, so ``callbot --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from callbot.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from callbot.campaigns.model import Lines
    from callbot.store.campaigns import CampaignRow

EXIT_REJECTED = 1
#: The SIP glue (issue 16, part 2) provides this factory; ``--dialer`` names another.
DEFAULT_DIALER = "callbot.sip.outbound:campaign_dialer"
KINDS = ("heatwave", "reminder", "question")


def _now(settings: Settings) -> datetime:
    from callbot.campaigns.runner import WallClock

    return WallClock(settings.timezone, settings.fixed_now).now()


def _key(settings: Settings) -> bytes:
    from callbot.privacy import load_key

    return load_key(settings.store.pseudonym_key, settings.store.state_dir / "pseudonym.key")


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[AsyncEngine]:
    from callbot.store.database import engine_from_settings, migrate

    engine = engine_from_settings(settings.store)
    try:
        await migrate(engine, settings.store.schema_name)
        yield engine
    finally:
        await engine.dispose()


def _in_store(settings: Settings, work: Callable[[AsyncEngine], Awaitable[int]]) -> int:
    async def main() -> int:
        async with _store(settings) as engine:
            return await work(engine)

    return asyncio.run(main())


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.campaigns.contacts_import import read_contacts
    from callbot.campaigns.phones import to_e164
    from callbot.campaigns.wording import HEATWAVE_MESSAGE, check_fields, fields_of
    from callbot.kb.town_data.sheets import SheetError
    from callbot.problems import DataError, Problem
    from callbot.store.campaigns import NewCampaign, create_campaign

    kind = args.kind
    if kind == "question" and not args.question:
        raise ValueError("a question campaign needs --question (asked after the message)")
    message = args.message or (HEATWAVE_MESSAGE if kind == "heatwave" else "")
    if not message:
        raise ValueError(f"a {kind} campaign needs --message (what the bot tells each person)")
    try:
        contacts = read_contacts(Path(args.file), needed=fields_of(message))
    except SheetError as exc:
        raise DataError([Problem(args.file, exc.line, str(exc))]) from None
    check_fields(message, contacts.fields)
    start, end = _window(args.window)
    spec = NewCampaign(
        name=args.name, kind=kind, town=args.town or _town(settings), message=message,
        question=args.question or "", callback_number=to_e164(args.callback),
        caller_id=to_e164(args.caller_id) if args.caller_id else "", service=args.service,
        transfer=args.transfer, emergency=args.emergency, window_start=start,
        window_end=end, max_attempts=args.attempts, retry_after_sec=args.retry_minutes * 60,
        max_lines=args.lines, pacing_sec=args.pacing_sec, retention_days=args.retention_days,
        source=Path(args.file).name, created_by=args.created_by)
    for problem in contacts.rejected:
        print(problem)
    summary = (f"{len(contacts.contacts)} people to call from {contacts.rows} rows "
               f"({len(contacts.rejected)} left out)")
    if args.dry_run:
        print(f"{args.file}: {summary} (--dry-run: nothing stored)")
    else:
        campaign_id = _in_store(settings, lambda engine: create_campaign(
            engine, spec, contacts.contacts, contacts.fields, _key(settings), _now(settings)))
        print(f"campaign {campaign_id} « {args.name} »: {summary}; start it with "
              f"`callbot campaign run {campaign_id}`")
    return EXIT_REJECTED if contacts.rejected or not contacts.contacts else 0


def _window(text: str) -> tuple[str, str]:
    """'9:00-19:00' → ('09:00', '19:00'); raises ``ValueError`` with what is expected."""
    from datetime import time

    try:
        start, end = (time.fromisoformat(part.strip().zfill(5)) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"--window '{text}': expected like 09:00-19:00") from None
    if end <= start:
        raise ValueError(f"--window '{text}' ends before it starts")
    return f"{start:%H:%M}", f"{end:%H:%M}"


def _town(settings: Settings) -> str:
    from callbot.kb.loader import load_knowledge_base

    return load_knowledge_base(settings.knowledge_base_path).town


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.campaigns.phones import national
    from callbot.store.campaigns import get_campaign, list_campaigns, people_status, status_counts

    async def work(engine: AsyncEngine) -> int:
        if args.id is None:
            for row in await list_campaigns(engine):
                total = sum((await status_counts(engine, row.id)).values())
                print(f"{row.id}\t{row.status}\t{row.kind}\t{total} people\t{row.name}")
            return 0
        row = await get_campaign(engine, args.id)
        if row is None:
            raise ValueError(f"no campaign {args.id} (callbot campaign status lists them)")
        if args.people:
            for line, name, phone, status, attempts in await people_status(engine, args.id):
                print(f"{line}\t{name}\t{national(phone)}\t{status}\t{attempts}")
        counts = await status_counts(engine, args.id)
        print(json.dumps({"campaign": row.id, "name": row.name, "status": row.status,
                          "people": sum(counts.values()), **counts}, ensure_ascii=False))
        return 0

    return _in_store(settings, work)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.campaigns.model import Lines
    from callbot.campaigns.runner import CampaignRunner, RunnerParams, WallClock
    from callbot.store.campaigns import get_campaign

    lines = Lines(total=args.total_lines, inbound_reserve=args.keep_free)

    async def work(engine: AsyncEngine) -> int:
        campaign = await get_campaign(engine, args.id)
        if campaign is None:
            raise ValueError(f"no campaign {args.id} (callbot campaign status lists them)")
        if args.dry_run:
            return await _dry_run(engine, campaign, lines, _now(settings))
        async with _dialer(args.dialer, settings) as dialer:
            runner = CampaignRunner(engine, campaign, dialer, RunnerParams(lines),
                                    WallClock(settings.timezone, settings.fixed_now))
            counts = await runner.run()
        print(json.dumps({"campaign": campaign.id, **counts}))
        return 0

    return _in_store(settings, work)


async def _dry_run(engine: AsyncEngine, campaign: CampaignRow, lines: Lines, now: datetime) -> int:
    """What the first decision of a run would be now; nothing is written."""
    from callbot.campaigns.scheduler import Dial, Restarted, WakeAt, decide, initial_state, why_closed
    from callbot.store.campaign_progress import facts
    from callbot.store.campaigns import load_contacts

    contacts, _ = await load_contacts(engine, campaign.id)
    plan = campaign.plan
    known = await facts(engine, campaign.id)
    _, actions = decide(initial_state(plan, contacts, lines),
                        Restarted(None, known.busy_elsewhere, known.do_not_call), now)
    dials = sum(isinstance(a, Dial) for a in actions)
    wake = next((a for a in actions if isinstance(a, WakeAt)), None)
    closed = why_closed(plan.window, now, plan.emergency)
    print(f"{now:%Y-%m-%d %H:%M}: {'window closed: ' + closed if closed else 'window open'}; "
          f"{dials} call(s) would start now"
          + (f"; next look at {wake.at:%Y-%m-%d %H:%M} ({wake.why})" if wake and wake.at else ""))
    return 0


@contextlib.asynccontextmanager
async def _dialer(spec: str, settings: Settings) -> AsyncIterator[object]:
    """The ``Dialer`` that ``module:function`` makes, opened and closed around the run."""
    module_name, _, function = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError):
        raise ValueError(f"no dialer '{spec}': give --dialer module:function, a function of the "
                         "settings returning an async context manager of a Dialer "
                         "(callbot/campaigns/dialer.py)") from None
    async with factory(settings) as dialer:
        yield dialer


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.store.campaigns import purge_campaigns

    async def work(engine: AsyncEngine) -> int:
        print(json.dumps({"campaigns_purged": await purge_campaigns(engine, _now(settings))}))
        return 0

    return _in_store(settings, work)


def cmd_dnc(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from callbot.campaigns.phones import to_e164
    from callbot.privacy import pseudonymise
    from callbot.store.campaigns import add_do_not_call, on_do_not_call

    key = pseudonymise(to_e164(args.number), _key(settings)) or ""

    async def work(engine: AsyncEngine) -> int:
        if args.dnc_command == "add":
            added = await add_do_not_call(engine, key, f"cli:{getpass.getuser()}", _now(settings))
            print("added to the do-not-call list" if added else "already on the do-not-call list")
            return 0
        listed = await on_do_not_call(engine, key)
        print("on the do-not-call list" if listed else "not on the do-not-call list")
        return 0 if listed else EXIT_REJECTED

    return _in_store(settings, work)


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    campaign = sub.add_parser("campaign", help="calls the town places to its citizens: heatwave "
                              "checks, reminders, one question").add_subparsers(
        dest="campaign_command", required=True)
    new = campaign.add_parser("import", help="a list (.csv, .xlsx, .ods: nom, téléphone, other "
                              "fields) as a new campaign")
    new.add_argument("file", help="the list: a header row with nom and téléphone columns")
    new.add_argument("--kind", choices=KINDS, required=True,
                     help="heatwave: « tout va bien ? », a no or silence goes to a person; "
                          "reminder: a message; question: a message and one yes/no question")
    new.add_argument("--name", required=True, help="the campaign's name, as agents see it")
    new.add_argument("--message", help="what the bot says to each person; {nom} and the list's "
                     "other columns as {field} (default for heatwave: the heat advice)")
    new.add_argument("--question", help="the yes/no question of a question campaign")
    new.add_argument("--callback", required=True,
                     help="the town's number people call back (said on voicemails)")
    new.add_argument("--caller-id", help="the number shown to people called (default: --callback)")
    new.add_argument("--town", help="the town's name in the disclosure (default: the knowledge base's)")
    new.add_argument("--service", default="ccas",
                     help="knowledge-base service whose agents get callback tasks (default ccas)")
    new.add_argument("--no-transfer", dest="transfer", action="store_false",
                     help="never put people through to the agent on duty: callback tasks only")
    new.add_argument("--emergency", action="store_true",
                     help="call on Sundays and public holidays too (same hours)")
    new.add_argument("--window", default="09:00-19:00",
                     help="when calls may start, local time (default 09:00-19:00)")
    new.add_argument("--attempts", type=int, default=3,
                     help="tries per person for busy, no answer, voicemail (default 3)")
    new.add_argument("--retry-minutes", type=float, default=60.0,
                     help="between two tries (default 60)")
    new.add_argument("--lines", type=int, default=10, help="this campaign's calls at once (default 10)")
    new.add_argument("--pacing-sec", type=float, default=1.0,
                     help="at least this long between two calls placed (default 1)")
    new.add_argument("--retention-days", type=int, default=30,
                     help="list and results are deleted this long after the last call (default 30)")
    new.add_argument("--created-by", default="cli", help="who imports, for the record (default cli)")
    new.add_argument("--dry-run", action="store_true", help="report the rows, store nothing")
    new.set_defaults(func=cmd_import)

    status = campaign.add_parser("status", help="campaigns, or one campaign's people per status")
    status.add_argument("id", type=int, nargs="?", help="a campaign's number (default: list them)")
    status.add_argument("--people", action="store_true",
                        help="one line per person: line, name, number, status, tries")
    status.set_defaults(func=cmd_status)

    run = campaign.add_parser("run", help="call until everyone is in a final status")
    run.add_argument("id", type=int, help="the campaign's number")
    run.add_argument("--total-lines", type=int, default=10,
                     help="the trunk's lines, callers' and campaigns' together (default 10)")
    run.add_argument("--keep-free", type=int, default=2,
                     help="lines always left free for people calling in (default 2)")
    run.add_argument("--dialer", default=DEFAULT_DIALER,
                     help=f"module:function making the Dialer (default {DEFAULT_DIALER})")
    run.add_argument("--dry-run", action="store_true",
                     help="say what would happen now (window, calls due), call nobody")
    run.set_defaults(func=cmd_run, log_level="INFO")

    campaign.add_parser("purge", help="delete campaigns past their retention").set_defaults(
        func=cmd_purge)

    dnc = campaign.add_parser("dnc", help="the town's do-not-call list").add_subparsers(
        dest="dnc_command", required=True)
    for name, what in (("add", "put a number on the list"), ("check", "is a number on the list")):
        command = dnc.add_parser(name, help=what)
        command.add_argument("number", help="a French phone number, as written")
        command.set_defaults(func=cmd_dnc)
