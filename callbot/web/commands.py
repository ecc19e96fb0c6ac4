"""``callbot web``, ``callbot users add|passwd|disable|list``, ``callbot store purge``,
``callbot bench web``, ``callbot bench editor``. Heavy imports stay inside the commands."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from callbot.config import Settings
from callbot.store.accounts import ROLES

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def _password(args: argparse.Namespace) -> str:
    """The new password, its length checked before it is typed again (or refused, from stdin)."""
    from callbot.store.accounts import MIN_PASSWORD_LENGTH

    too_short = f"the password needs at least {MIN_PASSWORD_LENGTH} characters"
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"{too_short} (read from stdin)")
        return password
    first = getpass.getpass("password: ")
    while len(first) < MIN_PASSWORD_LENGTH:
        print(f"{too_short}; try again", file=sys.stderr)
        first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _with_engine(settings: Settings, work: Callable[..., Awaitable[object]]) -> object:
    from callbot.store.database import engine_from_settings, migrate

    async def main() -> object:
        engine = engine_from_settings(settings.store)
        try:
            await migrate(engine, settings.store.schema_name)
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.store import accounts

    password = _password(args) if args.users_command in ("add", "passwd") else ""
    args.username = getattr(args, "username", "")

    async def work(engine: object) -> None:
        if args.users_command == "add":
            await accounts.add_user(engine, args.username, password, args.role)
        elif args.users_command == "passwd":
            await accounts.set_password(engine, args.username, password)
        elif args.users_command == "disable":
            await accounts.set_active(engine, args.username, False)
        else:
            for user in await accounts.list_users(engine):
                print(f"{user.username}\t{user.role}\t{'active' if user.active else 'disabled'}")
            return
        await accounts.audit(engine, f"cli:{getpass.getuser()}", f"user.{args.users_command}",
                             args.username,
                             f"role {args.role}" if args.users_command == "add" else "")
        print(f"{args.users_command}: {args.username} done")

    _with_engine(settings, work)
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """The call log's periods, then the campaigns past their own retention (lists and
    results: names and numbers of vulnerable people must not outlive their campaign)."""
    from callbot.store.campaigns import purge_campaigns
    from callbot.store.message_audio import audio_dir, keeps_audio
    from callbot.store.retention import purge

    store, now = settings.store, datetime.now()

    async def purge_all(engine: AsyncEngine) -> dict[str, int]:
        report = await purge(
            engine, store.retention_days, now, store.state_dir / "recordings",
            store.recording_retention_days, message_audio_dir=audio_dir(store),
            message_audio_days=store.message_audio_days if keeps_audio(store) else None)
        return {**report.__dict__, "campaigns": await purge_campaigns(engine, now)}

    print(json.dumps(_with_engine(settings, purge_all)))
    return 0


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.web.app import run

    run(settings, args.host, args.port)
    return 0


def cmd_bench_web(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.web.bench import bench_web

    print(json.dumps(asyncio.run(bench_web(settings, args.calls, args.requests, args.backends))),
          flush=True)
    return 0


def cmd_bench_editor(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.web.bench_editor import bench_editor

    print(json.dumps(asyncio.run(bench_editor(settings)), ensure_ascii=False), flush=True)
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    web = sub.add_parser("web", help="the staff dashboard and FAQ editor alone, without "
                         "answering calls")
    web.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    web.add_argument("--port", type=int, help="port to listen on (default: web.port, 8080)")
    web.set_defaults(func=cmd_web, log_level="INFO")

    users = sub.add_parser("users", help="staff accounts of the dashboard: add, passwd, "
                           "disable, list").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account")
    add.add_argument("username", help="login name of the new account")
    add.add_argument("--role", choices=ROLES, default="ops",
                     help="ops: dashboard; editor: also the FAQ; admin: also accounts; "
                          "campaigns: ops and the outbound campaigns (default ops)")
    for name, what in (("passwd", "set a new password of"), ("disable", "disable")):
        users.add_parser(name, help=f"{what} an account").add_argument(
            "username", help="login name of the account")
    users.add_parser("list", help="list accounts")
    for parser in users.choices.values():
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the password from the first line of stdin")
        parser.set_defaults(func=cmd_users)

    store = sub.add_parser("store", help="the call log's storage: purge past the retention "
                           "periods").add_subparsers(
        dest="store_command", required=True)
    store.add_parser("purge", help="delete what is older than the retention periods") \
        .set_defaults(func=cmd_purge)

    bench_web_parser = bench.add_parser("web", help="dashboard p95 with a large call log")
    bench_web_parser.add_argument("--calls", type=int, default=100_000,
                                  help="calls in the generated log (default 100000)")
    bench_web_parser.add_argument("--requests", type=int, default=40, help="per page")
    bench_web_parser.add_argument("--backends", default="sqlite,postgresql",
                                  help="comma-separated: sqlite, postgresql")
    bench_web_parser.set_defaults(func=cmd_bench_web)
    bench.add_parser("editor", help="seconds from an editor's save to a running bot using it") \
        .set_defaults(func=cmd_bench_editor)

    from callbot.demo import register as register_demo  # `callbot demo`, in its own module

    register_demo(sub, bench)
