"""``callbot bench latency`` and ``callbot bench calls``: scripted calls against a real
``callbot serve`` (started here on free ports), figures printed as a final JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

from callbot.call_client import CallReport, Step, call_websocket
from callbot.config import Settings
from callbot.nlu.evaluation import percentile
from callbot.voice_server import VoiceServer, voice_server

CLIPS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "audio"
_FRAMES = re.compile(r"call audio: (\d+) frames sent, (\d+) late")
#: The latency bench's questions: answered from the knowledge base, no comma pause long enough
#: to end the turn early (fr_acte_naissance has one), none that ends the call (fr_personne).
LATENCY_CLIPS = "fr_[hp]o*.wav"


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


def turn_figures(reports: list[CallReport]) -> dict[str, Any]:
    """p50 / p95 of the turn latency as heard (``callbot.turn_timing``), and its split (p50 of
    each part over the turns whose first audio was the answer)."""
    timings = [t for r in reports for t in r.timings]
    latencies = [t.latency_ms for t in timings if t.latency_ms is not None]
    split: dict[str, list[float]] = {}
    for timing in timings:
        for key, value in (timing.split_ms or {}).items():
            split.setdefault(key, []).append(value)
    return {
        "turns": len(latencies),
        "turn_latency_p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "turn_latency_p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "overlapped_turns": sum(t.overlapped for t in timings),  # bot still talking: no latency
        "turns_cut_early": sum(t.cut_early for t in timings),  # answered at a pause mid-sentence
        "split_p50_ms": {k: round(percentile(v, 0.5), 1) for k, v in split.items()},
    }


def receiver_late_frames(reports: list[CallReport]) -> dict[str, Any]:
    """Late bot frames as the callers heard them (see ``callbot.playout``)."""
    frames = sum(r.playout.frames for r in reports)
    late = sum(r.playout.late for r in reports)
    return {"late_frame_ratio": round(late / frames, 5) if frames else None,
            "frames_received": frames, "late_frames": late}


async def _latency_calls(server: VoiceServer, calls: int, pattern: str) -> list[CallReport]:
    return [await call_websocket(server.call_url, caller_clips(pattern)) for _ in range(calls)]


def bench_latency(settings: Settings, calls: int, stt_engine: str,
                  pattern: str = LATENCY_CLIPS) -> dict[str, Any]:
    """``calls`` calls one after the other, each saying every clip. The first call is cold (only
    the fixed prompts are cached); the later ones are warm: their answers were synthesised
    before and come from the prompt cache (the same questions come back across calls)."""
    with voice_server(settings.nlu.cache_dir, stt_engine=stt_engine) as server:
        cpu_before, _ = proc_figures(server.process.pid)
        reports = asyncio.run(_latency_calls(server, calls, pattern))
        cpu_sec = proc_figures(server.process.pid)[0] - cpu_before
    greetings = [r.greeting_latency_ms for r in reports if r.greeting_latency_ms is not None]
    turns = turn_figures(reports)
    return {
        "stt_engine": stt_engine,
        "calls": len(reports),
        **turns,
        "cold": turn_figures(reports[:1]),
        "warm": turn_figures(reports[1:]),
        **answer_latencies(reports),
        "greeting_latency_ms": round(statistics.median(greetings), 1) if greetings else None,
        "vad_stop_window_ms": settings.voice.vad_stop_sec * 1000,
        "serve_cpu_sec_per_call": round(cpu_sec / max(1, len(reports)), 2),  # all of it
        "load_average": os.getloadavg()[0],
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
    extra = {"CALLBOT_VOICE__MAX_CALLS": str(max(concurrent, settings.voice.max_calls))}
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
    print(json.dumps(bench_latency(settings, args.calls, args.stt, args.clips)))
    return 0


def cmd_bench_calls(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(bench_calls(settings, args.concurrent, args.seconds)))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    latency = bench.add_parser("latency", help="end of caller speech → first bot audio")
    latency.add_argument("--calls", type=int, default=8)
    latency.add_argument("--stt", default="vosk", choices=("vosk", "whisper"))
    latency.add_argument("--clips", default=LATENCY_CLIPS,
                         help="caller clips (glob in tests/fixtures/audio)")
    latency.set_defaults(func=cmd_bench_latency)
    calls = bench.add_parser("calls", help="N simultaneous calls: late frames, CPU, memory")
    calls.add_argument("--concurrent", type=int, default=20)
    calls.add_argument("--seconds", type=float, default=60.0)
    calls.set_defaults(func=cmd_bench_calls)


