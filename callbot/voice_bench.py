"""``callbot bench latency`` and ``callbot bench calls``: scripted calls against a real
``callbot serve`` (started here on free ports), figures printed as a final JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from callbot.call_client import CallReport, Step, call_websocket
from callbot.config import Settings
from callbot.nlu.evaluation import percentile
from callbot.voice_server import VoiceServer, voice_server

CLIPS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "audio"
_FRAMES = re.compile(r"call audio: (\d+) frames sent, (\d+) late")
#: The latency bench's six questions: each answered from the knowledge base, no comma (a pause
#: long enough to end the turn early), none that ends the call.
LATENCY_CLIPS = "fr_q_*.wav"
#: A bench server does not pre-render the knowledge base: that is a job done once after an
#: edit (the whole KB is ~2 900 sentences, ~15 min of one core; measured on its own by
#: ``python3 -m callbot.speech.prerender_bench``). Run beside the calls, it slowed them below a
#: town's steady state, where the prompt cache on disk is complete; the warm-up call caches
#: the answers the bench asks instead.
STEADY_STATE_ENV = {"CALLBOT_VOICE__PRERENDER_ANSWERS": "false"}
#: Questions per measured call: short calls, as most are, so the greeting is heard often too.
CLIPS_PER_CALL = 2


def caller_clips(pattern: str = "fr_*.wav") -> list[Step]:
    return [Step("wav", str(p)) for p in sorted(CLIPS.glob(pattern))]


def proc_figures(pid: int) -> tuple[float, float]:
    """CPU seconds used so far and resident memory (MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if line.startswith("VmRSS:"))
    return ticks / 100, rss_kb / 1024  # USER_HZ is 100 on Linux


def _late_frames(server: VoiceServer) -> tuple[int, int]:
    sent = late = 0
    for match in _FRAMES.finditer(server.log_text()):
        sent += int(match.group(1))
        late += int(match.group(2))
    return sent, late


def answer_latencies(reports: list[CallReport]) -> dict[str, Any]:
    """End of speech → the answer decided (its turn report), and how often the bot had to say
    "un instant" first because it was late (the first bot audio was then that, not the answer)."""
    answers = [lat for r in reports for lat in r.answer_latencies_ms]
    return {"answer_latency_p50_ms": round(percentile(answers, 0.5), 1) if answers else None,
            "answer_latency_p95_ms": round(percentile(answers, 0.95), 1) if answers else None,
            "answers": len(answers),
            "spoke_before_answer": sum(r.spoke_before_answer for r in reports)}


def _percentiles(values: list[float], *quantiles: float) -> list[float | None]:
    return [round(percentile(values, q), 1) if values else None for q in quantiles]


def turn_figures(reports: list[CallReport]) -> dict[str, Any]:
    """p50 / p95 / p99 of the turn latency as heard (``callbot.turn_timing``), and its split
    (p50 and p95 of each part over the turns whose first audio was the answer)."""
    timings = [t for r in reports for t in r.timings]
    latencies = [t.latency_ms for t in timings if t.latency_ms is not None]
    split: dict[str, list[float]] = {}
    for timing in timings:
        for key, value in (timing.split_ms or {}).items():
            split.setdefault(key, []).append(value)
    p50, p95, p99 = _percentiles(latencies, 0.5, 0.95, 0.99)
    return {
        "turns": len(latencies),
        "turn_latency_p50_ms": p50, "turn_latency_p95_ms": p95, "turn_latency_p99_ms": p99,
        "overlapped_turns": sum(t.overlapped for t in timings),  # bot still talking: no latency
        "turns_cut_early": sum(t.cut_early for t in timings),  # answered at a pause mid-sentence
        "split_p50_ms": {k: _percentiles(v, 0.5)[0] for k, v in split.items()},
        "split_p95_ms": {k: _percentiles(v, 0.95)[0] for k, v in split.items()},
    }


def receiver_late_frames(reports: list[CallReport]) -> dict[str, Any]:
    """Late bot frames as the callers heard them (see ``callbot.playout``)."""
    frames = sum(r.playout.frames for r in reports)
    late = sum(r.playout.late for r in reports)
    return {"late_frame_ratio": round(late / frames, 5) if frames else None,
            "frames_received": frames, "late_frames": late}


def _rotated(clips: list[Step], start: int, count: int) -> list[Step]:
    return [clips[(start + i) % len(clips)] for i in range(count)]


async def _background_caller(server: VoiceServer, clips: list[Step], offset: int,
                             made: list[int]) -> None:
    """Calls one after the other, ``CLIPS_PER_CALL`` questions each, until cancelled (the
    caller hangs up mid-call): the other callers of a busy hour. Counts its calls in ``made``."""
    while True:
        await call_websocket(server.call_url, _rotated(clips, offset + len(made),
                                                       CLIPS_PER_CALL))
        made.append(offset)


async def _measured_calls(server: VoiceServer, clips: list[Step], turns: int,
                          background: int) -> tuple[list[CallReport], int]:
    """Calls of ``CLIPS_PER_CALL`` questions, rotating over the clips, until ``turns`` turns are
    asked, while ``background`` other callers talk over the same bridge."""
    made: list[int] = []
    others = [asyncio.create_task(_background_caller(server, clips, n, made),
                                  name=f"background-caller-{n}") for n in range(background)]
    reports = []
    try:
        await asyncio.sleep(2.0 if background else 0.0)  # the others past their greeting
        for start in range(0, turns, CLIPS_PER_CALL):
            count = min(CLIPS_PER_CALL, turns - start)
            reports.append(await call_websocket(server.call_url, _rotated(clips, start, count)))
    finally:
        for task in others:
            task.cancel()
        outcomes = await asyncio.gather(*others, return_exceptions=True)
    failed = [o for o in outcomes if not isinstance(o, asyncio.CancelledError)]
    if failed:
        raise RuntimeError(f"a background caller failed: {failed[0]!r}")
    return reports, len(made) + background  # the calls cut short count too


def _phase(server: VoiceServer, clips: list[Step], turns: int,
           background: int) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    cpu_before, _ = proc_figures(server.process.pid)
    started = time.monotonic()
    reports, background_calls = asyncio.run(_measured_calls(server, clips, turns, background))
    cores = (proc_figures(server.process.pid)[0] - cpu_before) / (time.monotonic() - started)
    return {**turn_figures(reports), **answer_latencies(reports), "calls": len(reports),
            "background_calls_made": background_calls, "serve_cores_busy": round(cores, 2),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def bench_latency(settings: Settings, turns: int, stt_engine: str,
                  pattern: str = LATENCY_CLIPS, background: tuple[int, ...] = (0, 5)
                  ) -> dict[str, Any]:
    """Turn latency with 0, 5… other calls talking at the same time, in one run on one server.

    A first call says every clip once: its turns are the cold figures (only the fixed prompts
    cached), and it leaves every answer in the prompt cache, so each measured phase is warm
    alike whatever its order. Each phase then asks ``turns`` questions."""
    clips = caller_clips(pattern)
    if not clips:
        raise ValueError(f"no caller clip matches {pattern!r} in {CLIPS}")
    extra = {**STEADY_STATE_ENV, "CALLBOT_VOICE__MAX_CALLS": str(max(max(background) + 1,
                                                                   settings.voice.max_calls))}
    with voice_server(settings.nlu.cache_dir, stt_engine=stt_engine, **extra) as server:
        warm_up = asyncio.run(call_websocket(server.call_url, clips))
        phases = {str(n): _phase(server, clips, turns, n) for n in background}
    return {
        "stt_engine": stt_engine, "clips": len(clips),
        "cold": turn_figures([warm_up]),
        "greeting_latency_ms": warm_up.greeting_latency_ms,
        "vad_stop_window_ms": settings.voice.vad_stop_sec * 1000,
        "by_background_calls": phases,
        "cpu_count": os.cpu_count(),
    }


async def _caller_for(server: VoiceServer, duration_sec: float) -> CallReport:
    """One caller asking questions for ``duration_sec``, then hanging up."""
    clips = caller_clips()
    steps = [clips[i % len(clips)] for i in range(int(duration_sec // 6) + 1)]
    return await call_websocket(server.call_url, steps)


CallOutcomes = list[CallReport | BaseException]


async def _concurrent_calls(server: VoiceServer, concurrent: int,
                            duration_sec: float) -> tuple[CallOutcomes, float, float, float]:
    idle_cpu, idle_rss = proc_figures(server.process.pid)
    started = time.monotonic()
    peak_rss = idle_rss
    tasks = [asyncio.create_task(_caller_for(server, duration_sec)) for _ in range(concurrent)]
    while not all(t.done() for t in tasks):
        await asyncio.sleep(1)
        peak_rss = max(peak_rss, proc_figures(server.process.pid)[1])
    reports = [t.exception() or t.result() for t in tasks]
    busy_cpu, _ = proc_figures(server.process.pid)
    wall = time.monotonic() - started
    return reports, (busy_cpu - idle_cpu) / wall, peak_rss - idle_rss, wall


def bench_calls(settings: Settings, concurrent: int, duration_sec: float) -> dict[str, Any]:
    extra = {**STEADY_STATE_ENV,
             "CALLBOT_VOICE__MAX_CALLS": str(max(concurrent, settings.voice.max_calls))}
    with voice_server(settings.nlu.cache_dir, **extra) as server:
        reports, cores, rss_mb, wall = asyncio.run(_concurrent_calls(server, concurrent,
                                                                     duration_sec))
        time.sleep(2)  # let the server log each call's audio counters
        sent, late = _late_frames(server)
    completed = [r for r in reports if isinstance(r, CallReport) and r.greeting_latency_ms]
    return {
        "concurrent": concurrent,
        "calls_completed": len(completed),
        **receiver_late_frames(completed),
        "late_frame_ratio_sent": round(late / sent, 5) if sent else None,  # the bot's own view
        "frames_sent": sent,
        "cpu_per_call": round(cores / concurrent, 4),  # cores busy per call (1.0 = one core)
        "rss_mb_per_call": round(rss_mb / concurrent, 1),
        "wall_sec": round(wall, 1),
    }


def cmd_bench_latency(args: argparse.Namespace, settings: Settings) -> int:
    background = tuple(int(n) for n in args.background_calls.split(","))
    print(json.dumps(bench_latency(settings, args.turns, args.stt, args.clips, background)))
    return 0


def cmd_bench_calls(args: argparse.Namespace, settings: Settings) -> int:
    """One server per count, one after the other (each count starts from an idle server); a
    single count prints its figures, several print them under ``by_concurrent``."""
    counts = [int(n) for n in args.concurrent.split(",")]
    runs = {str(n): bench_calls(settings, n, args.seconds) for n in counts}
    print(json.dumps(runs[str(counts[0])] if len(counts) == 1 else
                     {"by_concurrent": runs, "cpu_count": os.cpu_count(),
                      "load_average": os.getloadavg()[0]}))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    latency = bench.add_parser("latency", help="end of caller speech → first bot audio")
    latency.add_argument("--turns", type=int, default=42,
                         help="questions measured per phase (default: 42)")
    latency.add_argument("--background-calls", default="0,5",
                         help="other calls talking meanwhile, one phase each (default: 0,5)")
    latency.add_argument("--stt", default="vosk", choices=("vosk", "whisper"),
                         help="recogniser of the server under test")
    latency.add_argument("--clips", default=LATENCY_CLIPS,
                         help="caller clips (glob in tests/fixtures/audio)")
    latency.set_defaults(func=cmd_bench_latency)
    calls = bench.add_parser("calls", help="N simultaneous calls: late frames, CPU, memory")
    calls.add_argument("--concurrent", default="20",
                       help="simultaneous calls; several counts: 10,20,30 (default: 20)")
    calls.add_argument("--seconds", type=float, default=60.0,
                       help="how long each caller talks (default: 60)")
    calls.set_defaults(func=cmd_bench_calls)


