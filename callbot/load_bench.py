"""``callbot bench load``: a Monday-morning peak, then twice the bot's capacity, against a real
``callbot serve``: every call must end completed or cleanly refused, every call that started
must be in the log, late audio frames (as the callers hear them) stay rare, memory stays flat.

The peak, with the defaults: a town of 500 calls a day, open 8 hours, takes about 15 % of its
day's calls in its busiest hour, 75 calls an hour; a Monday morning doubles that: 150 calls an
hour, one every 24 s on average, arriving at random (Poisson). The overload: calls arrive at a
constant rate worth twice ``--max-calls`` simultaneous calls (rate = 2 × max calls / length of
one call, measured first by a probe call unless ``--call-sec`` gives it), so about half are
refused (WebSocket close 1013, SIP 486 Busy Here: a PBX turns either into the switchboard).
The soak (``--profile soak``): ``--calls`` calls back to back, ``--max-calls`` callers at once,
to see whether serve's memory keeps growing: the slope of its RSS over the last 2/3 of the calls.

Callers reach the bot over the WebSocket bridge (``call_client``, scripted questions) or over
SIP (``--transport sip``, ``callbot.load_sip``: one sipp per call). Each transport says how a
call ended, how late the audio was where the caller received it, and what the call log lost;
the arrivals, the serve watch and the figures are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from callbot.config import Settings
from callbot.load_common import PhaseAudio
from callbot.voice_bench import proc_figures
from callbot.voice_server import VoiceServer, voice_server

PEAK_HOUR_SHARE = 0.15  # of a day's calls in its busiest hour
MONDAY_FACTOR = 2.0
OVERLOAD_FACTOR = 2.0  # offered load, in multiples of the bot's capacity
WATCH_SEC = 0.5
#: A soak caller the bot refused (its slot not released yet) calls back after this.
CALL_BACK_SEC = 1.0
#: Memory counts as flat while serve's RSS grows by less than this per 100 calls.
FLAT_MB_PER_100_CALLS = 5.0
#: Fewer calls than this and the slope is still the first waves of calls filling the caches:
#: no verdict.
VERDICT_MIN_CALLS = 300
#: For serve to log the end of the last calls (their "call audio" line).
SETTLE_SEC = 3.0
SERVE_TAIL_LINES = 40


def peak_calls_per_hour(calls_per_day: int) -> float:
    return calls_per_day * PEAK_HOUR_SHARE * MONDAY_FACTOR


@dataclass
class Tally:
    """How the calls of one phase ended, as the callers saw it."""

    offered: int = 0
    completed: int = 0
    refused: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    call_sec: list[float] = field(default_factory=list)  # completed calls

    def add(self, verdict: str, seconds: float) -> None:
        if verdict == "completed":
            self.completed += 1
            self.call_sec.append(seconds)
        elif verdict == "refused":
            self.refused += 1
        else:
            self.failures[verdict] += 1

    def figures(self) -> dict[str, Any]:
        return {"calls_offered": self.offered, "calls_completed": self.completed,
                "calls_refused": self.refused, "calls_failed": sum(self.failures.values()),
                "failures": dict(self.failures),
                "call_sec_p50": round(statistics.median(self.call_sec), 1) if self.call_sec else None}


class LoadTransport(Protocol):
    """How the callers reach the bot."""

    name: str

    async def call(self, number: int, questions: int) -> str:
        """Place call ``number``; how it ended: ``completed``, ``refused`` or ``failed:<why>``."""
        ...

    def phase_audio(self) -> PhaseAudio:
        """The audio the calls ended since the last phase received."""
        ...

    async def call_sec(self, asked: float | None) -> float:
        """The length of one call: the overload's unit of capacity."""
        ...

    def store_losses(self, database: Path) -> dict[str, Any]:
        """What the call log lost, read once ``serve`` has stopped (its writer flushed)."""
        ...


@dataclass
class ServeWatch:
    """Calls in progress and memory of the serve process, from its log lines and /proc."""

    server: VoiceServer
    rss_every: int = 50  # serve's memory is sampled each time this many more calls ended
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
        if self.ended - last >= self.rss_every:
            self.rss_by_calls.append((self.ended, round(self.rss_mb(), 1)))

    def rss_mb(self) -> float:
        code = self.server.process.poll()
        if code is not None:  # /proc has no memory figure for it any more: say what happened
            handle, name = tempfile.mkstemp(prefix="callbot-serve-", suffix=".log")
            with os.fdopen(handle, "w") as log:
                log.writelines(self.server.log)
            tail = "".join(self.server.log[-SERVE_TAIL_LINES:])
            raise RuntimeError(f"callbot serve exited with {code} during the run; its log is in "
                               f"{name}, its last lines:\n{tail}")
        return proc_figures(self.server.process.pid)[1]

    async def run(self) -> None:
        while True:
            self.poll()
            await asyncio.sleep(WATCH_SEC)


async def place(transport: LoadTransport, number: int, questions: int, tally: Tally) -> str:
    tally.offered += 1
    started = time.monotonic()
    verdict = await transport.call(number, questions)
    tally.add(verdict, time.monotonic() - started)
    return verdict


def poisson_gaps(rate_per_sec: float, rng: random.Random) -> Iterator[float]:
    while True:
        yield rng.expovariate(rate_per_sec)


def constant_gaps(rate_per_sec: float) -> Iterator[float]:
    while True:
        yield 1 / rate_per_sec


async def offer_calls(transport: LoadTransport, gaps: Iterator[float], duration_sec: float,
                      numbers: Iterator[int], questions: int, tally: Tally) -> None:
    """Start a call at each arrival until ``duration_sec`` is over, then wait for them all."""
    calls: list[asyncio.Task] = []
    began = next_at = time.monotonic()
    for gap in gaps:
        if next_at - began >= duration_sec:
            break
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        number = next(numbers)
        calls.append(asyncio.create_task(place(transport, number, questions, tally),
                                         name=f"load-call-{number}"))
        next_at += gap
    await asyncio.gather(*calls)


async def call_back_to_back(transport: LoadTransport, calls: int, callers: int,
                            numbers: Iterator[int], questions: int, tally: Tally) -> None:
    """The soak: ``callers`` callers, each calling again as soon as its call ended, until
    ``calls`` calls were placed."""
    left = iter(range(calls))

    async def caller() -> None:
        for _ in left:  # shared by the callers: each of the ``calls`` is placed once
            if await place(transport, next(numbers), questions, tally) == "refused":
                await asyncio.sleep(CALL_BACK_SEC)

    await asyncio.gather(*(asyncio.create_task(caller(), name=f"soak-caller-{k}")
                           for k in range(callers)))


async def run_profile(server: VoiceServer, transport: LoadTransport,
                      args: argparse.Namespace) -> dict[str, Any]:
    watch = ServeWatch(server, rss_every=args.rss_every)
    rss_start = watch.rss_mb()
    watcher = asyncio.create_task(watch.run(), name="serve-watch")
    rng = random.Random(args.seed)
    numbers = itertools.count(1)  # 0 is the probe call's
    phases: dict[str, dict[str, Any]] = {}
    audio: list[PhaseAudio] = []

    def phase_done(name: str, tally: Tally, **figures: Any) -> None:
        heard = transport.phase_audio()
        audio.append(heard)
        phases[name] = {**figures, **tally.figures(), **heard.figures}

    if args.profile in {"peak", "both"}:
        per_hour = peak_calls_per_hour(args.calls_per_day)
        tally = Tally()
        await offer_calls(transport, poisson_gaps(per_hour / 3600, rng), args.duration, numbers,
                          args.questions, tally)
        phase_done("peak", tally, calls_per_hour=per_hour)
    if args.profile in {"overload", "both"}:
        call_sec = await transport.call_sec(args.call_sec)
        rate = OVERLOAD_FACTOR * args.max_calls / call_sec
        tally = Tally()
        await offer_calls(transport, constant_gaps(rate), args.duration, numbers, 1, tally)
        phase_done("overload", tally, calls_per_sec=round(rate, 3), call_sec=round(call_sec, 1))
    if args.profile == "soak":
        tally = Tally()
        await call_back_to_back(transport, args.calls, args.max_calls, numbers, args.questions,
                                tally)
        phase_done("soak", tally, callers=args.max_calls)
    await asyncio.sleep(SETTLE_SEC)
    watch.poll()
    watcher.cancel()
    return _totals(phases, audio, watch, rss_start, args)


def rss_slope_mb_per_100_calls(samples: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of RSS against calls ended, over the last 2/3 of the calls (the
    first third fills caches and the allocator's pools): a leak shows as a steady rise."""
    if not samples:
        return None
    tail = [(calls, mb) for calls, mb in samples if calls >= samples[-1][0] / 3]
    if len({calls for calls, _ in tail}) < 2:
        return None
    slope, _ = statistics.linear_regression([c for c, _ in tail], [mb for _, mb in tail])
    return round(100 * slope, 2)


def _totals(phases: dict[str, dict[str, Any]], audio: list[PhaseAudio], watch: ServeWatch,
            rss_start: float, args: argparse.Namespace) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(phase[key] for phase in phases.values())

    late, of = sum(a.late for a in audio), sum(a.of for a in audio)
    rss_end = round(watch.rss_mb(), 1)
    samples = [(0, round(rss_start, 1)), *watch.rss_by_calls]
    if watch.ended > samples[-1][0]:
        samples.append((watch.ended, rss_end))
    slope = rss_slope_mb_per_100_calls(samples)
    return {
        "transport": args.transport, "profile": args.profile, "duration_sec": args.duration,
        "max_calls": args.max_calls,
        "calls_offered": total("calls_offered"), "calls_completed": total("calls_completed"),
        "calls_refused": total("calls_refused"), "calls_failed": total("calls_failed"),
        "late_frame_ratio": round(late / of, 5) if of else None,
        "late_frames": late, "frames_expected": of,
        "calls_ended_in_serve_log": watch.ended,
        "rss_start_mb": round(rss_start, 1), "rss_end_mb": rss_end,
        "rss_mb_by_calls_ended": samples,
        "rss_slope_mb_per_100_calls": slope,
        "memory_flat": (None if slope is None or watch.ended < VERDICT_MIN_CALLS
                        else slope < FLAT_MB_PER_100_CALLS),
        "max_concurrent": watch.max_concurrent,
        "load_avg_1min": round(os.getloadavg()[0], 2),  # the machine is shared: say how busy
        "phases": phases,
    }


def bench_load(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    state_dir = Path(tempfile.mkdtemp(prefix="callbot-load-"))  # this run's call log only
    transport: LoadTransport
    if args.transport == "sip":
        from callbot.load_sip import sip_load

        with sip_load(settings, args.max_calls, state_dir, args.call_sec) as (server, transport):
            figures = asyncio.run(run_profile(server, transport, args))
    else:
        from callbot.load_websocket import WebSocketLoad

        extra = {"CALLBOT_VOICE__MAX_CALLS": str(args.max_calls),
                 "CALLBOT_STORE__STATE_DIR": str(state_dir)}
        with voice_server(settings.nlu.cache_dir, **extra) as server:
            transport = WebSocketLoad(server)
            figures = asyncio.run(run_profile(server, transport, args))
    # serve has stopped, which flushes its call log (SQLite in state_dir)
    return {**figures, **transport.store_losses(state_dir / "callbot.db")}


def cmd_bench_load(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(bench_load(settings, args)))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    load = bench.add_parser("load", help="Monday-morning peak and 2x capacity, or a soak: "
                                         "completed, refused, lost, late frames, memory")
    load.add_argument("--transport", default="websocket", choices=("websocket", "sip"))
    load.add_argument("--profile", default="both", choices=("peak", "overload", "both", "soak"))
    load.add_argument("--duration", type=float, default=600.0, help="seconds of arrivals per phase")
    load.add_argument("--max-calls", type=int, default=20, help="the bot's capacity")
    load.add_argument("--calls-per-day", type=int, default=500)
    load.add_argument("--questions", type=int, default=3,
                      help="questions per WebSocket call at the peak and in the soak")
    load.add_argument("--call-sec", type=float, default=None,
                      help="length of one call (WebSocket: measured by a probe call unless "
                           "given; SIP: how long sipp stays on the line, default 40)")
    load.add_argument("--calls", type=int, default=1000, help="calls the soak places")
    load.add_argument("--rss-every", type=int, default=50,
                      help="serve's memory is sampled each time this many more calls ended")
    load.add_argument("--seed", type=int, default=1)
    load.set_defaults(func=cmd_bench_load)
