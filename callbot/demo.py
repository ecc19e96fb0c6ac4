"""``callbot demo``: a separate call log holding a realistic week, to see the dashboard work.

It writes into ``STATE_DIR/demo.sqlite``, made again at each run, never into the town's call
log unless ``--database-url`` names a database (which must then hold no call). The calls and
how they are written: ``callbot.demo_calls``. Then it says how to open the dashboard on the
demo database, or serves it (``--serve``). Heavy imports stay inside the command.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from callbot.config import Settings, StoreSettings

if TYPE_CHECKING:
    from callbot.demo_calls import DemoReport

DEMO_FILE = "demo.sqlite"
DEFAULT_SEED = 14


def demo_store(settings: Settings, database_url: str | None = None) -> StoreSettings:
    """The demo's store: a file beside the town's call log, or the database named."""
    store = settings.store
    url = database_url or f"sqlite+aiosqlite:///{store.state_dir / DEMO_FILE}"
    return store.model_copy(update={"url": url,
                                    "schema_name": store.schema_name if database_url else None})


def remove_demo_file(path: Path) -> None:
    """The last run's demo file and SQLite's files beside it: each run starts afresh."""
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _now(args: argparse.Namespace, settings: Settings) -> datetime:
    moment = args.now or settings.fixed_now
    if moment:
        return datetime.fromisoformat(moment).replace(tzinfo=None)
    return datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)


def _print(report: DemoReport, serve: bool) -> None:
    from callbot.demo_calls import DEMO_USER

    shares = ", ".join(f"{outcome} {n / report.calls:.0%}" for outcome, n in
                       sorted(report.outcomes.items(), key=lambda item: -item[1]))
    where = f"CALLBOT_STORE__URL='{report.database_url}'"
    print(f"demo call log: {report.calls} calls, {report.turns} turns, {report.first_day} to "
          f"{report.last_day} ({shares})\n  in {report.database_url}")
    if report.password:
        print(f"log in as {DEMO_USER!r}, password {report.password!r} (an account of the demo "
              "database only)")
    else:
        print(f"add an account to it: {where} callbot users add NAME --role admin")
    if not serve:
        print(f"open the dashboard on it:\n  {where} callbot web\n(or: callbot demo --serve)")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.demo_calls import fill

    store = demo_store(settings, args.database_url)
    own_file = args.database_url is None
    if own_file:
        remove_demo_file(store.state_dir / DEMO_FILE)
    report = asyncio.run(fill(store, settings, _now(args, settings), args.seed, args.days,
                              args.scale, secrets.token_urlsafe(12) if own_file else None))
    _print(report, args.serve)
    if args.serve:
        from callbot.web.app import run

        run(settings.model_copy(update={"store": store}))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="a separate call log with a realistic week of calls, "
                          "to try the dashboard")
    demo.add_argument("--database-url", help="write there instead of STATE_DIR/demo.sqlite "
                      "(a database without calls only)")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED,
                      help="the same seed and --now give the same calls")
    demo.add_argument("--now", help='the end of the week, e.g. "2026-12-05T10:30" '
                      "(default: now, or fixed_now)")
    demo.add_argument("--days", type=int, default=7, help="how many days of calls, up to --now")
    demo.add_argument("--scale", type=float, default=1.0,
                      help="share of a town hall's volume (450 calls a weekday at 1)")
    demo.add_argument("--serve", action="store_true", help="then serve the web app on it")
    demo.set_defaults(func=cmd_demo)
