"""``callbot bench fuzz``: a hundred thousand inputs per surface, counted.

Per surface: inputs fed, outcomes by kind (accepted inputs and refusals by error type),
crashes (an unexpected exception or a broken promise, each kind shown once with its input),
the slowest input, RSS growth over the run and inputs per second. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from loguru import logger

from callbot.config import Settings
from callbot.fuzz.mutate import Mutator
from callbot.fuzz.surface import Surface, check

SURFACES = ("chan_websocket", "generic", "audiosocket", "rasa_yaml", "kb_yaml", "rasa_answer",
            "rtp", "web")
_RSS_EVERY = 500
_PROGRESS_EVERY = 10_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def make_surface(name: str) -> Surface:
    """Imported on demand: the wire surfaces load pipecat, the web one starts an app."""
    if name == "web":
        from callbot.fuzz.web_surface import WebTarget, web_surface

        target = WebTarget()
        await target.start()
        return web_surface(target)
    if name == "rtp":
        from callbot.fuzz.rtp_surface import rtp_surface

        return rtp_surface()
    from callbot.fuzz.data_surfaces import data_surfaces
    from callbot.fuzz.wire_surfaces import wire_surfaces

    found = {s.name: s for s in [*wire_surfaces(), *data_surfaces()]}
    return found[name]


async def run_surface(surface: Surface, inputs: int, seed: int,
                      max_sec: float | None = None) -> dict[str, Any]:
    """Feed ``inputs`` inputs, or as many as fit in ``max_sec`` (the figures say which)."""
    mutator = Mutator(surface.seeds, surface.tokens, random.Random(seed))
    outcomes: Counter[str] = Counter()
    crashes: Counter[str] = Counter()
    hangs, slowest = 0, 0.0
    for data in surface.seeds:  # warm-up: imports, caches, first allocations
        await _one(surface, data, Counter(), Counter())
    start_rss, peak_rss, started = rss_mb(), 0.0, time.perf_counter()
    done = 0
    while done < inputs and (max_sec is None or time.perf_counter() - started < max_sec):
        batch = [mutator.next() for _ in range(min(surface.concurrency, inputs - done))]
        timings = await asyncio.gather(*(_one(surface, data, outcomes, crashes) for data in batch))
        slowest = max(slowest, *timings)
        hangs += sum(t > surface.hang_sec for t in timings)
        done += len(batch)
        if done % _RSS_EVERY < len(batch):
            peak_rss = max(peak_rss, rss_mb())
        if done % _PROGRESS_EVERY < len(batch):
            print(f"  {surface.name}: {done} inputs, {sum(crashes.values())} crashes", flush=True)
    wall = time.perf_counter() - started
    peak_rss = max(peak_rss, rss_mb())
    return {"inputs": done, "stopped_by_time": done < inputs, "outcomes": dict(outcomes.most_common()),
            "crashes": sum(crashes.values()), "crash_kinds": dict(crashes), "hangs": hangs,
            "slowest_input_ms": round(slowest * 1000, 1),
            "rss_growth_mb": round(peak_rss - start_rss, 1),
            "inputs_per_sec": round(done / wall, 1), "wall_sec": round(wall, 1)}


async def _one(surface: Surface, data: bytes, outcomes: Counter[str],
               crashes: Counter[str]) -> float:
    started = time.perf_counter()
    try:
        outcome = await check(surface, data)
    except Exception as exc:  # noqa: BLE001 - a crash is what this command counts
        kind = f"{type(exc).__name__}: {str(exc)[:100]}"
        if not crashes[kind]:
            print(f"  CRASH on {surface.name}: {kind}\n    input: {data[:300]!r}", flush=True)
        crashes[kind] += 1
        outcome = "crash"
    outcomes[outcome.split(" ")[-1] if surface.name == "web" else outcome] += 1
    return time.perf_counter() - started


def _summary(name: str, figures: dict[str, Any]) -> str:
    refusals = {k: v for k, v in figures["outcomes"].items()}
    top = ", ".join(f"{k}={v}" for k, v in list(refusals.items())[:8])
    return (f"{name:15s} inputs={figures['inputs']} crashes={figures['crashes']} "
            f"hangs={figures['hangs']} slowest={figures['slowest_input_ms']} ms "
            f"rss_growth={figures['rss_growth_mb']} MB {figures['inputs_per_sec']}/s\n"
            f"{'':15s} outcomes: {top}")


async def bench_fuzz(names: list[str], inputs: int, seed: int,
                     max_sec: float | None = None) -> dict[str, Any]:
    logger.disable("callbot")  # every refusal logs a warning: millions of lines otherwise
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="aiohttp")  # torn multipart
    results: dict[str, Any] = {}
    try:
        for name in names:
            surface = await make_surface(name)
            try:
                results[name] = await run_surface(surface, inputs, seed, max_sec)
            finally:
                if surface.close:
                    await surface.close()
            print(_summary(name, results[name]), flush=True)
    finally:
        logger.enable("callbot")
    return {"inputs_per_surface": inputs, "seed": seed,
            "crashes": sum(r["crashes"] for r in results.values()),
            "hangs": sum(r["hangs"] for r in results.values()),
            "surfaces": {n: {k: v for k, v in r.items() if k != "crash_kinds"}
                         for n, r in results.items()}}


def cmd_bench_fuzz(args: argparse.Namespace, settings: Settings) -> int:
    names = args.surface or list(SURFACES)
    report = asyncio.run(bench_fuzz(names, args.inputs, args.seed, args.max_seconds))
    print(json.dumps(report))
    return 1 if report["crashes"] or report["hangs"] else 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    fuzz = bench.add_parser("fuzz", help="hostile inputs on every parser: crashes, hangs, memory")
    fuzz.add_argument("--surface", action="append", choices=SURFACES,
                      help="one surface (repeatable); default: all")
    fuzz.add_argument("--inputs", type=int, default=100_000, help="inputs per surface")
    fuzz.add_argument("--seed", type=int, default=0)
    fuzz.add_argument("--max-seconds", type=float, default=None,
                      help="stop a surface after this long (its figures then say so)")
    fuzz.set_defaults(func=cmd_bench_fuzz)
