"""``callbot bench load``: a Monday-morning peak, then twice the bot's capacity, against a real
``callbot serve``: every call must end completed or cleanly refused, every call that started
must be in the log, late audio frames (as the callers hear them) stay rare, memory stays flat.

The peak, with the defaults: a town of 500 calls a day, open 8 hours, takes about 15 % of its
day's calls in its busiest hour, 75 calls an hour; a Monday morning doubles that: 150 calls an
hour, one every 24 s on average, arriving at random (Poisson). The overload: calls arrive at a
constant rate worth twice ``--max-calls`` simultaneous calls (rate = 2 × max calls / length of
one call, measured first by a probe call unless ``--call-sec`` gives it), so about half are
refused (WebSocket close 1013, which a PBX turns into the switchboard).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from callbot.call_client import CallReport, Step, call_websocket
from callbot.config import Settings
from callbot.voice_bench import (
    answer_latencies,
    caller_clips,
    proc_figures,
    receiver_late_frames,
)
from callbot.voice_server import VoiceServer, voice_server

PEAK_HOUR_SHARE = 0.15  # of a day's calls in its busiest hour
MONDAY_FACTOR = 2.0
OVERLOAD_FACTOR = 2.0  # offered load, in multiples of the bot's capacity
CALL_TIMEOUT_SEC = 240.0  # a scripted call still running after this has failed
WATCH_SEC = 0.5
RSS_EVERY_CALLS = 100  # serve's memory is sampled each time this many more calls ended
CLEAN_CLOSE_CODES = {None, 1000, 1001}


def peak_calls_per_hour(calls_per_day: int) -> float:
    return calls_per_day * PEAK_HOUR_SHARE * MONDAY_FACTOR


@dataclass
class Tally:
    """What the callers saw, per phase."""

    offered: int = 0
    completed: int = 0
    refused: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    answered: int = 0  # completed calls in which the bot answered the caller's question
    reports: list[CallReport] = field(default_factory=list)  # completed calls
    started: list[CallReport] = field(default_factory=list)  # every call the bot took
    call_sec: list[float] = field(default_factory=list)

    def add(self, report: CallReport, seconds: float) -> None:
        if report.call_id:
            self.started.append(report)
        verdict = outcome(report)
        if verdict == "completed":
            self.completed += 1
            self.answered += any(t.get("caller") for t in report.turns)
            self.reports.append(report)
            self.call_sec.append(seconds)
        elif verdict == "refused":
            self.refused += 1
        else:
            self.failures[verdict] += 1

    def figures(self) -> dict[str, Any]:
        return {"calls_offered": self.offered, "calls_completed": self.completed,
                "calls_refused": self.refused, "calls_failed": sum(self.failures.values()),
                "failures": dict(self.failures), "calls_answered": self.answered,
                "call_sec_p50": round(statistics.median(self.call_sec), 1) if self.call_sec else None,
                **answer_latencies(self.reports), **receiver_late_frames(self.reports)}


def outcome(report: CallReport) -> str:
    """``completed``, ``refused`` (cleanly, over capacity) or ``failed:<why>``."""
    from callbot.bridge.websocket_server import CLOSE_TRY_AGAIN_LATER  # pipecat: not at CLI start

    if not report.call_id:
        return "refused" if report.close_code == CLOSE_TRY_AGAIN_LATER else "failed:not_started"
    if report.greeting_latency_ms is None:
        return "failed:no_greeting"
    if report.close_code not in CLEAN_CLOSE_CODES:
        return f"failed:closed_{report.close_code}"
    return "completed"


@dataclass
class ServeWatch:
    """Calls in progress and memory of the serve process, from its log lines and /proc."""

    server: VoiceServer
    started: int = 0
    ended: int = 0  # "call audio: …" is logged once per call, in run_call's ``finally``
    max_concurrent: int = 0
    rss_by_calls: list[tuple[int, float]] = field(default_factory=list)
    _seen: int = 0

    def poll(self) -> None:
        lines = self.server.log[self._seen:]
        self._seen += len(lines)
        for line in lines:
            if "call started on" in line:
                self.started += 1
            elif "call audio:" in line:
                self.ended += 1
            self.max_concurrent = max(self.max_concurrent, self.started - self.ended)
        last = self.rss_by_calls[-1][0] if self.rss_by_calls else 0
        if self.ended - last >= RSS_EVERY_CALLS:
            self.rss_by_calls.append((self.ended, round(self.rss_mb(), 1)))

    def rss_mb(self) -> float:
        return proc_figures(self.server.process.pid)[1]

    async def run(self) -> None:
        while True:
            self.poll()
            await asyncio.sleep(WATCH_SEC)


async def one_call(url: str, steps: list[Step], tally: Tally, caller: str) -> None:
    tally.offered += 1
    started = time.monotonic()
    try:
        report = await asyncio.wait_for(call_websocket(url, steps, caller=caller), CALL_TIMEOUT_SEC)
    except TimeoutError:
        tally.failures["failed:timeout"] += 1
    except (aiohttp.ClientError, OSError) as exc:
        tally.failures[f"failed:{type(exc).__name__}"] += 1
    else:
        tally.add(report, time.monotonic() - started)


def poisson_gaps(rate_per_sec: float, rng: random.Random) -> Iterator[float]:
    while True:
        yield rng.expovariate(rate_per_sec)


def constant_gaps(rate_per_sec: float) -> Iterator[float]:
    while True:
        yield 1 / rate_per_sec


async def offer_calls(url: str, gaps: Iterator[float], duration_sec: float,
                      script: Callable[[int], list[Step]], tally: Tally) -> None:
    """Start a call at each arrival until ``duration_sec`` is over, then wait for them all."""
    calls: list[asyncio.Task] = []
    began = next_at = time.monotonic()
    for number, gap in enumerate(gaps):
        if next_at - began >= duration_sec:
            break
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        caller = f"+3313900{number:04d}"
        calls.append(asyncio.create_task(one_call(url, script(number), tally, caller),
                                         name=f"load-call-{number}"))
        next_at += gap
    await asyncio.gather(*calls)


def question_script(questions: int) -> Callable[[int], list[Step]]:
    """Call number → the clips that caller says, a different rotation for each caller."""
    clips = caller_clips()
    return lambda number: [clips[(number + i) % len(clips)] for i in range(questions)]


async def _run(server: VoiceServer,
               args: argparse.Namespace) -> tuple[dict[str, Any], list[CallReport]]:
    watch = ServeWatch(server)
    rss_start = watch.rss_mb()
    watcher = asyncio.create_task(watch.run(), name="serve-watch")
    rng = random.Random(args.seed)
    phases: dict[str, Any] = {}
    tallies: list[Tally] = []
    if args.profile in {"peak", "both"}:
        per_hour = peak_calls_per_hour(args.calls_per_day)
        tally = Tally()
        await offer_calls(server.call_url, poisson_gaps(per_hour / 3600, rng), args.duration,
                          question_script(args.questions), tally)
        phases["peak"] = {"calls_per_hour": per_hour, **tally.figures()}
        tallies.append(tally)
    if args.profile in {"overload", "both"}:
        call_sec = args.call_sec or await _probe_call_sec(server.call_url)
        rate = OVERLOAD_FACTOR * args.max_calls / call_sec
        tally = Tally()
        await offer_calls(server.call_url, constant_gaps(rate), args.duration, question_script(1),
                          tally)
        phases["overload"] = {"calls_per_sec": round(rate, 3), "probe_call_sec": round(call_sec, 1),
                              **tally.figures()}
        tallies.append(tally)
    await asyncio.sleep(3)  # let serve log the last calls' ends
    watch.poll()
    watcher.cancel()
    return _totals(phases, watch, rss_start, args), [r for t in tallies for r in t.started]


async def _probe_call_sec(url: str) -> float:
    """How long one call lasts with nobody else calling (the overload's unit of capacity)."""
    probe = Tally()
    await one_call(url, question_script(1)(0), probe, "+33139000000")
    if not probe.call_sec:
        raise RuntimeError(f"the probe call did not complete: {dict(probe.failures)}")
    return probe.call_sec[0]


def _totals(phases: dict[str, Any], watch: ServeWatch, rss_start: float,
            args: argparse.Namespace) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(phase[key] for phase in phases.values())

    frames = sum(phase["frames_received"] for phase in phases.values())
    late = total("late_frames")
    return {
        "transport": "websocket", "profile": args.profile, "duration_sec": args.duration,
        "max_calls": args.max_calls,
        "calls_offered": total("calls_offered"), "calls_completed": total("calls_completed"),
        "calls_refused": total("calls_refused"), "calls_failed": total("calls_failed"),
        "late_frame_ratio": round(late / frames, 5) if frames else None,
        "frames_received": frames,
        "calls_ended_in_serve_log": watch.ended,
        "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(watch.rss_mb(), 1),
        "rss_mb_by_calls_ended": watch.rss_by_calls,
        "max_concurrent": watch.max_concurrent,
        "phases": phases,
    }


def store_losses(database: Path, started: list[CallReport]) -> dict[str, Any]:
    """Calls the callers saw answered that the call log lacks or left open, and bot turns
    they heard that it lacks; read once ``serve`` has stopped (its writer flushed)."""
    if not database.exists():  # CALLBOT_STORE__URL points elsewhere: not counted here
        return {"log_records_lost": None, "store": f"no SQLite call log at {database}"}
    with closing(sqlite3.connect(database)) as db:
        outcomes = dict(db.execute("SELECT id, outcome FROM calls"))
        turns = dict(db.execute("SELECT call_id, count(*) FROM turns GROUP BY call_id"))
    missing = [r.call_id for r in started if r.call_id not in outcomes]
    unclosed = [r.call_id for r in started if outcomes.get(r.call_id, "") is None]
    lost_turns = sum(max(0, len(r.turns) - turns.get(r.call_id, 0)) for r in started)
    return {"log_records_lost": len(missing) + len(unclosed) + lost_turns,
            "calls_in_store": len(outcomes), "calls_missing_from_store": len(missing),
            "calls_left_open_in_store": len(unclosed), "turns_missing_from_store": lost_turns}


def bench_load(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    state_dir = Path(tempfile.mkdtemp(prefix="callbot-load-"))  # this run's call log only
    extra = {"CALLBOT_VOICE__MAX_CALLS": str(args.max_calls),
             "CALLBOT_STORE__STATE_DIR": str(state_dir)}
    with voice_server(settings.nlu.cache_dir, **extra) as server:
        figures, started = asyncio.run(_run(server, args))
    # serve has stopped, which flushes its call log (SQLite in state_dir)
    return {**figures, **store_losses(state_dir / "callbot.db", started)}


def cmd_bench_load(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(bench_load(settings, args)))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    load = bench.add_parser("load", help="Monday-morning peak and 2x capacity: completed, refused, "
                                         "lost, late frames, memory")
    load.add_argument("--profile", default="both", choices=("peak", "overload", "both"))
    load.add_argument("--duration", type=float, default=600.0, help="seconds of arrivals per phase")
    load.add_argument("--max-calls", type=int, default=20, help="the bot's capacity")
    load.add_argument("--calls-per-day", type=int, default=500)
    load.add_argument("--questions", type=int, default=3, help="questions per call at the peak")
    load.add_argument("--call-sec", type=float, default=None,
                      help="length of one call (default: measured by a probe call first)")
    load.add_argument("--seed", type=int, default=1)
    load.set_defaults(func=cmd_bench_load)
