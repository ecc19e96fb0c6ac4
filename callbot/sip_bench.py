"""``callbot bench sip --concurrent N``: N simultaneous sipp calls against a real ``callbot serve``
with its SIP endpoint (started here on free ports, test models), figures as a final JSON line.

Setup time is sipp's INVITE → 200 OK. The bot's RTP is judged where the caller receives it
(``callbot.rtp_capture``: kernel arrival times on the loopback); CPU and memory are the
serve process's own, from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from loguru import logger

from callbot.config import Settings
from callbot.nlu.evaluation import percentile
from callbot.rtp_capture import RtpCapture, late_or_missing_ratio
from callbot.sipp import CALLER_CODECS, run_calls
from callbot.voice_bench import proc_figures
from callbot.voice_server import VoiceServer, voice_server

_SIP_PORT = re.compile(r"SIP endpoint: sip:\S+?@[^:\s]+:(\d+)")
#: Calls last, whatever the test models make of the French clips: no transfer for misunderstanding.
KEEP_TALKING_ENV = {"CALLBOT_POLICY__MAX_MISUNDERSTANDINGS": "1000",
                    "CALLBOT_POLICY__MAX_SILENCES": "1000"}


def free_udp_ports(count: int, step: int = 1) -> int:
    """The first of ``count`` free UDP ports ``step`` apart, in a random place (ours alone)."""
    for _ in range(200):
        base = random.randrange(30000, 60000 - count * step) & ~1
        probes = []
        try:
            for port in range(base, base + count * step, step):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise OSError(f"no {count} free UDP ports")


def sip_env(rtp_min: int, rtp_max: int, max_calls: int, **extra: str) -> dict[str, str]:
    """Environment of a ``callbot serve`` with its SIP endpoint on a free port."""
    return {"CALLBOT_SIP__ENABLED": "true", "CALLBOT_SIP__HOST": "127.0.0.1",
            "CALLBOT_SIP__PORT": "0", "CALLBOT_SIP__RTP_PORT_MIN": str(rtp_min),
            "CALLBOT_SIP__RTP_PORT_MAX": str(rtp_max),
            "CALLBOT_SIP__MAX_CALLS": str(max_calls),
            "CALLBOT_VOICE__MAX_CALLS": str(max_calls), **extra}


def sip_port(server: VoiceServer) -> int:
    match = _SIP_PORT.search(server.log_text())
    if match is None:
        raise RuntimeError("callbot serve did not log its SIP endpoint")
    return int(match.group(1))


def caller_media_port(bot_rtp: tuple[int, int]) -> int:
    """A free media port for sipp, outside the bot's RTP range: its RTP must not pass for the
    bot's in the capture."""
    media_port = free_udp_ports(4)
    while bot_rtp[0] - 4 <= media_port <= bot_rtp[1]:
        media_port = free_udp_ports(4)
    return media_port


@contextmanager
def sip_server(nlu_cache: Path, max_calls: int = 40,
               **extra: str) -> Iterator[tuple[VoiceServer, int, tuple[int, int]]]:
    """A real ``callbot serve`` with SIP: (server, SIP port, its RTP port range)."""
    span = 2 * max_calls + 20
    rtp_min = free_udp_ports(span // 8, step=8)
    rtp = (rtp_min, rtp_min + span)
    with voice_server(nlu_cache, **sip_env(*rtp, max_calls, **extra)) as server:
        yield server, sip_port(server), rtp


class _PeakRss(threading.Thread):
    """Samples a process's resident memory every second until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="peak-rss", daemon=True)
        self.pid, self.peak_mb = pid, 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                self.peak_mb = max(self.peak_mb, proc_figures(self.pid)[1])
            except (OSError, StopIteration):
                return


def bench_sip(settings: Settings, concurrent: int, seconds: float, rate: float,
              workdir: Path | None = None, codec: str = "pcmu") -> dict[str, Any]:
    """Run the calls, the callers offering ``codec`` alone (pcmu, g722); ``workdir`` keeps
    sipp's files (a temporary directory otherwise)."""
    limit = max(concurrent, 1)
    with (nullcontext(str(workdir)) if workdir else tempfile.TemporaryDirectory()) as work, \
            sip_server(settings.nlu.cache_dir, max_calls=max(limit, settings.voice.max_calls),
                       **KEEP_TALKING_ENV) as (server, port, rtp):
        capture = RtpCapture(*rtp) if RtpCapture.available() else None
        if capture is None:
            logger.warning("capturing the bot's RTP needs root: late and missing not measured")
        memory = _PeakRss(server.process.pid)
        media_port = caller_media_port(rtp)
        cpu_before, rss_before = proc_figures(server.process.pid)
        started = time.monotonic()
        memory.start()
        with capture or nullcontext():
            run = run_calls(f"127.0.0.1:{port}", Path(work), calls=concurrent,
                            concurrent=limit, call_sec=seconds, rate_per_sec=rate,
                            sip_port=free_udp_ports(1), media_port=media_port, codec=codec)
            time.sleep(0.5)  # the last packets in flight
        wall = time.monotonic() - started
        cpu_after, rss_after = proc_figures(server.process.pid)
        memory.stopped.set()
    streams = capture.streams() if capture else []
    ratio = late_or_missing_ratio(streams)
    return {
        "concurrent": concurrent,
        "call_sec": seconds,
        "codec": codec,
        "setup_ms_p50": round(percentile(run.setup_ms, 0.5), 1) if run.setup_ms else None,
        "setup_ms_p95": round(percentile(run.setup_ms, 0.95), 1) if run.setup_ms else None,
        "calls_offered": run.offered,
        "calls_completed": run.successful,
        "calls_with_bot_audio": sum(1 for s in streams if s.voiced),
        "rtp_packets_received": sum(s.received for s in streams),
        "rtp_packets_late": sum(s.late for s in streams),
        "rtp_packets_missing": sum(s.missing for s in streams),
        "late_or_missing_ratio": round(ratio, 5) if ratio is not None else None,
        "cpu_percent": round(100 * (cpu_after - cpu_before) / wall, 1),  # of one core
        "rss_mb": round(max(memory.peak_mb, rss_after), 1),
        "rss_idle_mb": round(rss_before, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),  # the machine is shared: say how busy
    }


def cmd_bench_sip(args: argparse.Namespace, settings: Settings) -> int:
    figures = bench_sip(settings, args.concurrent, args.seconds, args.rate, codec=args.codec)
    print(json.dumps(figures))
    return 0 if figures["calls_completed"] == figures["calls_offered"] else 1


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    sip = bench.add_parser("sip", help="N simultaneous sipp calls: setup time, bot RTP quality, CPU")
    sip.add_argument("--concurrent", type=int, default=20)
    sip.add_argument("--seconds", type=float, default=60.0, help="length of each call")
    sip.add_argument("--rate", type=float, default=5.0, help="new calls per second")
    sip.add_argument("--codec", choices=sorted(CALLER_CODECS), default="pcmu",
                     help="what the callers offer and stream (g722: 16 kHz calls)")
    sip.set_defaults(func=cmd_bench_sip)
