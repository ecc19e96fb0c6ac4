"""``callbot bench sip-fuzz --inputs N``: hostile SIP against a real ``callbot serve``, then a call.

The server (test models, SIP on a free port) takes N mutated datagrams
(``callbot.fuzz.sip_surface``) and a flood of good INVITEs from one source; then it must still
be alive and answer a real sipp call end to end. Memory is the server's own (/proc), sampled
through the run. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from callbot.config import Settings
from callbot.fuzz.bench import run_surface
from callbot.fuzz.sip_surface import SipWire, flood, sip_surface
from callbot.sip_bench import free_udp_ports, sip_server
from callbot.sipp import run_calls
from callbot.voice_bench import proc_figures
from callbot.voice_server import VoiceServer

#: Few calls, short RTP timeout: INVITEs the fuzzer gets answered end soon and free the place.
FUZZ_ENV = {"CALLBOT_SIP__RTP_TIMEOUT_SEC": "3", "CALLBOT_SIP__TRANSFER_TIMEOUT_SEC": "2",
            "CALLBOT_SIP__TRANSFER_URI": "sip:standard@127.0.0.1:5999"}
MAX_CALLS = 4
_CALL_START = re.compile(r"call started on sip")
_CALL_END = re.compile(r"rtp: \d+ packets in")


def rss_mb(server: VoiceServer) -> float:
    return proc_figures(server.process.pid)[1]


async def wait_for_calls_to_end(server: VoiceServer, timeout_sec: float = 60) -> bool:
    """The calls the fuzzer's INVITEs started end by RTP timeout: wait for the last one."""
    deadline = time.monotonic() + timeout_sec
    while time.monotonic() < deadline:
        log = server.log_text()
        if len(_CALL_START.findall(log)) <= len(_CALL_END.findall(log)):
            return True
        await asyncio.sleep(0.5)
    return False


async def barrage(server: VoiceServer, port: int, inputs: int, seed: int, flood_count: int,
                  checked: bool = False) -> dict[str, Any]:
    """Fuzz, flood, and the server's figures. ``checked``: one input at a time, and an input
    that gets no reply must leave a line in the server's log (``silent`` otherwise)."""
    wire = SipWire(port)
    here = await wire.open()
    peak = [rss_mb(server)]
    sampling = asyncio.create_task(_sample_rss(server, peak))
    log_lines = (lambda: len(server.log)) if checked else None
    surface = sip_surface(wire, here, log_lines=log_lines, concurrency=1 if checked else 32)
    try:
        rss_start = rss_mb(server)
        figures = await run_surface(surface, inputs, seed)
        flooded = await flood(wire, here, flood_count) if flood_count else Counter()
        rss_end = rss_mb(server)
    finally:
        sampling.cancel()
        wire.close()
    del figures["rss_growth_mb"]  # the fuzzer's own memory: the server's is below
    return {**figures, "flood": dict(flooded.most_common()),
            "server_rss_start_mb": round(rss_start, 1), "server_rss_end_mb": round(rss_end, 1),
            "server_rss_peak_mb": round(max(peak), 1), "server_alive": server.process.poll() is None,
            "server_rss_each_minute_mb": [round(mb, 1) for mb in peak[::60]],
            "server_errors": server.log_text().count(" | ERROR "),
            "first_server_error": _first_error(server),
            "silent_inputs": [repr(data) for data in wire.silent]}


def _first_error(server: VoiceServer) -> str | None:
    """The first ERROR line and the end of its traceback (the bench keeps no log file)."""
    log = server.log_text()
    start = log.find(" | ERROR ")
    if start < 0:
        return None
    lines = re.split(r"\n(?=\d{4}-\d\d-\d\d )", log[start:start + 20_000], maxsplit=1)[0].splitlines()
    return "\n".join(lines[:1] + lines[-4:])


async def _sample_rss(server: VoiceServer, peak: list[float]) -> None:
    while True:
        await asyncio.sleep(1)
        peak.append(rss_mb(server))


def good_call(port: int, workdir: Path) -> bool:
    """One real sipp call (caller audio, BYE) completed."""
    run = run_calls(f"127.0.0.1:{port}", workdir, calls=1, concurrent=1, call_sec=3,
                    sip_port=free_udp_ports(1), media_port=free_udp_ports(4))
    return run.successful == 1


def bench_sip_fuzz(settings: Settings, inputs: int, seed: int, flood_count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work, \
            sip_server(settings.nlu.cache_dir, max_calls=MAX_CALLS, **FUZZ_ENV) as (server, port, _):
        figures = asyncio.run(barrage(server, port, inputs, seed, flood_count))
        asyncio.run(wait_for_calls_to_end(server))
        figures["good_call_after"] = good_call(port, Path(work))
        figures["server_alive"] = server.process.poll() is None
    figures["load_avg_1min"] = round(os.getloadavg()[0], 2)  # the machine is shared
    return figures


def cmd_bench_sip_fuzz(args: argparse.Namespace, settings: Settings) -> int:
    figures = bench_sip_fuzz(settings, args.inputs, args.seed, args.flood)
    print(json.dumps(figures))
    healthy = figures["server_alive"] and figures["good_call_after"] and not figures["hangs"]
    return 0 if healthy and not figures["crashes"] else 1


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    fuzz = bench.add_parser("sip-fuzz", help="mutated SIP datagrams and an INVITE flood against "
                            "a real callbot serve; then a good sipp call")
    fuzz.add_argument("--inputs", type=int, default=100_000)
    fuzz.add_argument("--seed", type=int, default=1)
    fuzz.add_argument("--flood", type=int, default=5000, help="good INVITEs sent at once")
    fuzz.set_defaults(func=cmd_bench_sip_fuzz)
