"""``callbot doctor``: is this machine ready to answer the town's calls? One line per check.

Each check is a small function returning a ``Check``: OK, WARN (the bot runs, someone should
look: a model still to fetch, an NLU model trained at first start) or FAIL (a call would fail:
a port taken, the database down). The exit code is 1 if any check failed, else 0. The network
checks (ports, SIP, Rasa) are in ``callbot.doctor_net``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from callbot.config import Settings, StoreSettings
from callbot.doctor_check import Check, Status, one_line

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from callbot.speech.registry import Registry

DATABASE_TIMEOUT_SEC = 8.0  # above the driver's own connect timeout (5 s), which says more
NTP_TIMEOUT_SEC = 3.0


# --- speech models -------------------------------------------------------------------------

def check_models(settings: Settings) -> list[Check]:
    """The recogniser the voice path uses (``voice.stt_engine``) and the voice."""
    from callbot.speech.registry import load_registry

    try:
        registry = load_registry(settings)
    except (OSError, ValueError) as exc:
        return [Check(Status.FAIL, f"speech model manifests: {one_line(exc)}",
                      "fix the manifest, or the setting models.manifests")]
    stt = "whisper_model" if settings.voice.stt_engine == "whisper" else "stt_model"
    return [check_model(setting, getattr(settings.models, setting), registry, settings)
            for setting in (stt, "tts_voice")]


def check_model(setting: str, value: str, registry: Registry, settings: Settings) -> Check:
    from callbot.speech.models import locate, missing_message
    from callbot.speech.registry import install_dir, looks_like_path, package_roots

    what = f"speech model models.{setting} = {value}"
    if looks_like_path(value):
        path = Path(value).expanduser()
        if path.exists():
            return Check(Status.OK, f"{what}: found")
        return Check(Status.WARN, f"{what}: no such file or folder",
                     f"put the model at {path.absolute()}, or set models.{setting} to a name "
                     "from `callbot models list`")
    spec = registry.get(value)
    if spec is None:
        return Check(Status.FAIL, f"{what}: no manifest lists this model",
                     f"set models.{setting} to a name from `callbot models list`, or a path")
    path = locate(spec, settings, assemble=False)
    if path is not None:
        return Check(Status.OK, f"{what}: installed at {path}")
    if spec.source == "package" and package_roots(spec) is not None:
        return Check(Status.OK, f"{what}: shipped by {', '.join(spec.packages)}, joined into "
                                f"{install_dir(spec, settings)} at first use")
    return Check(Status.WARN, f"{what}: not installed", missing_message(spec, settings))


# --- database ------------------------------------------------------------------------------

def redacted(url: str) -> str:
    """The database URL without its password, fit for a screen or a ticket."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


def _new_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names if it does not exist yet (connecting would create it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


def _revisions(connection: Connection) -> tuple[set[str], set[str], set[str]]:
    """The schema's revisions, the migrations' heads, and every revision the code knows."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from callbot.store.database import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    current = set(MigrationContext.configure(connection).get_current_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    return current, set(script.get_heads()), known


async def check_database(store: StoreSettings) -> Check:
    """Connect and compare the schema with the migrations; never creates nor upgrades."""
    from callbot.store.database import engine_from_settings

    url = store.database_url
    what = f"database {redacted(url)}"
    fix_url = ("fix store.url (CALLBOT_STORE__URL): postgresql+asyncpg://USER@HOST/DATABASE, "
               "or unset for SQLite in store.state_dir")
    new_file = _new_sqlite_file(url)
    if new_file is not None:
        folder = next(p for p in new_file.parents if p.exists())
        if not os.access(folder, os.W_OK):
            return Check(Status.FAIL, f"{what}: {folder} is not writable",
                         "set store.state_dir (CALLBOT_STORE__STATE_DIR) to a writable folder")
        return Check(Status.OK, f"{what}: not created yet, made at first start")
    try:
        engine = engine_from_settings(store, pool_size=1)
    except Exception as exc:  # a malformed URL, a driver not installed: all said the same way
        return Check(Status.FAIL, f"{what}: unusable ({one_line(exc)})", fix_url)
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SEC), engine.connect() as connection:
            current, heads, known = await connection.run_sync(_revisions)
    except Exception as exc:  # unreachable, refused, wrong credentials, timed out
        return Check(Status.FAIL, f"{what}: cannot connect ({one_line(exc)})",
                     f"start the database server, or {fix_url}")
    finally:
        await engine.dispose()
    if current - known:
        return Check(Status.FAIL, f"{what}: schema at revision {', '.join(sorted(current))}, "
                                  "unknown to this version of callbot",
                     "a newer callbot wrote it: upgrade callbot, or use another database")
    if not current:
        return Check(Status.OK, f"{what}: reachable, empty (the tables are made at first start)")
    if current != heads:
        return Check(Status.OK, f"{what}: reachable, schema upgraded at next start")
    return Check(Status.OK, f"{what}: reachable, schema up to date")


# --- clock ---------------------------------------------------------------------------------

def check_clock(timezone: str, fixed_now: str | None, now: datetime,
                system_offset: timedelta | None) -> list[Check]:
    """The town's time (opening hours are local) against the system's; ``now`` is aware."""
    from zoneinfo import ZoneInfo

    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        return [Check(Status.FAIL, f"time zone {timezone!r}: {one_line(exc)}",
                      "set timezone to an IANA name such as Europe/Paris (CALLBOT_TIMEZONE)")]
    local = now.astimezone(zone)
    checks = [Check(Status.OK, f"town clock: {local:%Y-%m-%d %H:%M} {timezone} "
                               f"({_utc(local.utcoffset())}, setting timezone)")]
    if fixed_now:
        checks.append(Check(Status.WARN, f"the bot's clock is frozen at {fixed_now} "
                                         "(setting fixed_now): opening hours are answered for "
                                         "that moment", "unset fixed_now (CALLBOT_FIXED_NOW) "
                                                        "outside demos and tests"))
    if system_offset is not None and system_offset != local.utcoffset():
        checks.append(Check(Status.WARN, f"system time zone is {_utc(system_offset)}, the "
                                         f"town's {_utc(local.utcoffset())}: the call log is in "
                                         "town time but its retention purge and the closing of "
                                         "dead calls read the system clock",
                            f"sudo timedatectl set-timezone {timezone}"))
    return checks


def _utc(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta(0)).total_seconds()) // 60
    return f"UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def check_ntp(synchronised: str | None) -> Check | None:
    """``timedatectl``'s answer ("yes", "no", or why it could not tell); None: no timedatectl."""
    if synchronised is None:
        return None
    if synchronised == "yes":
        return Check(Status.OK, "system clock synchronised (NTP)")
    if synchronised == "no":
        return Check(Status.WARN, "system clock not synchronised (NTP): opening hours and the "
                                  "call log drift", "sudo timedatectl set-ntp true")
    return Check(Status.WARN, f"NTP synchronisation unknown ({synchronised})",
                 "check that chrony or systemd-timesyncd keeps the clock right")


def ntp_synchronised() -> str | None:
    """Ask ``timedatectl`` (not there: None)."""
    if shutil.which("timedatectl") is None:
        return None
    try:
        done = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                              capture_output=True, text=True, timeout=NTP_TIMEOUT_SEC,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"timedatectl: {one_line(exc)}"
    if done.returncode == 0 and done.stdout.strip() in ("yes", "no"):
        return done.stdout.strip()
    first = (done.stderr.strip().splitlines() or ["no answer"])[0]
    return f"timedatectl: {first}"


# --- data ----------------------------------------------------------------------------------

def check_knowledge_base(path: Path) -> Check:
    from callbot.kb.loader import load_knowledge_base
    from callbot.problems import DataError

    try:
        kb = load_knowledge_base(path)
    except DataError as exc:
        return Check(Status.FAIL, f"knowledge base {path}: {len(exc.problems)} problem(s), "
                                  f"first: {exc.problems[0]}",
                     "`callbot kb validate` lists them with file and line; the bot does not "
                     "start until they are fixed")
    summary = f"knowledge base {path}: {kb.town}, {len(kb.topics)} topics"
    if kb.warnings:
        return Check(Status.WARN, f"{summary}, {len(kb.warnings)} warning(s)",
                     "`callbot kb validate` lists them with file and line")
    return Check(Status.OK, summary)


def check_nlu(settings: Settings) -> Check:
    """Whether the embedded NLU is cached for the current training data (else: trained at start)."""
    from callbot.nlu.embedded import MODEL_VERSION
    from callbot.nlu.training_data import load_training_data
    from callbot.problems import DataError

    if settings.nlu.backend not in ("embedded", "rasa"):
        return Check(Status.FAIL, f"nlu.backend = {settings.nlu.backend!r}",
                     'set nlu.backend to "embedded" or "rasa"')
    try:
        data = load_training_data(settings.data_dir)
    except DataError as exc:
        return Check(Status.FAIL, f"NLU training data {settings.data_dir}: "
                                  f"{len(exc.problems)} problem(s), first: {exc.problems[0]}",
                     "fix the files named; `callbot nlu train` shows them all")
    cache_dir = settings.nlu.cache_dir.expanduser()
    # the cache's file name, as EmbeddedNLU.load_or_train writes it
    cached = sorted(cache_dir.glob(f"{MODEL_VERSION}-{data.fingerprint[:24]}-*.pkl"))
    if cached:
        return Check(Status.OK, f"NLU model trained for the current data ({cached[0]})")
    return Check(Status.WARN, f"NLU model not trained for the current data ({len(data.examples)} "
                              f"examples): the first start trains it, a few seconds",
                 f"`callbot nlu train` (cache: {cache_dir})")


# --- the command ---------------------------------------------------------------------------

def run_checks(settings: Settings) -> Iterator[Check]:
    """Every check the settings call for, cheapest and most telling first."""
    from callbot.doctor_net import check_listeners, check_rasa, check_sip

    yield from check_models(settings)
    yield from check_listeners(settings)
    yield asyncio.run(check_database(settings.store))
    if settings.nlu.backend == "rasa":
        yield check_rasa(settings.nlu.rasa_url)
    if settings.sip.enabled:
        yield from check_sip(settings.sip)
    yield from check_clock(settings.timezone, settings.fixed_now, datetime.now(UTC),
                           datetime.now().astimezone().utcoffset())
    ntp = check_ntp(ntp_synchronised())
    if ntp is not None:
        yield ntp
    yield check_knowledge_base(settings.knowledge_base_path)
    yield check_nlu(settings)


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    counts = dict.fromkeys(Status, 0)
    for check in run_checks(settings):
        print(check.line(), flush=True)
        counts[check.status] += 1
    print(", ".join(f"{count} {status}" for status, count in counts.items()))
    return 1 if counts[Status.FAIL] else 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    sub.add_parser("doctor", help="check this machine is ready to answer calls: models, ports, "
                   "database, clock, knowledge base").set_defaults(func=cmd_doctor)
