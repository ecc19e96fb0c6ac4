"""``callbot bench sip`` in short (3 calls of 8 s; the 20-call figures come from the command):
sipp calls a real ``callbot serve`` over SIP, the bot's RTP is captured on the loopback.

No speed is asserted here (the machine is shared): only that every figure is measured.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from callbot.config import Settings
from callbot.rtp_capture import RtpCapture, late_or_missing_ratio
from callbot.sip.rtp_wire import RtpPacket
from callbot.sip_bench import bench_sip, free_udp_ports
from callbot.sipp import sipp_available

needs_capture = pytest.mark.skipif(not RtpCapture.available(),
                                   reason="capturing on the loopback needs root")


@needs_capture
def test_capture_counts_holes_and_late_packets() -> None:
    """A stream with one lost packet and one 100 ms stall, sent from a port of the range."""
    base = free_udp_ports(2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        sender.bind(("127.0.0.1", base))
        with RtpCapture(base, base) as capture:
            sender.sendto(b"not rtp", receiver.getsockname())
            for i in range(60):
                if i == 20:
                    continue  # lost
                if i == 40:
                    time.sleep(0.1)  # the sender stalls
                voice = bytes(range(160)) if i >= 30 else b"\xff" * 160
                sender.sendto(bytes(RtpPacket(0, 65500 + i, 160 * i, 7, voice)),
                              receiver.getsockname())
                time.sleep(0.02)
            time.sleep(0.3)
    [stream] = capture.streams()
    assert (stream.source_port, stream.received, stream.missing) == (base, 59, 1)
    assert stream.late >= 1 and stream.voiced == 30
    assert capture.unusable == 1
    assert late_or_missing_ratio([stream]) == pytest.approx((stream.late + 1) / 60)


@needs_capture
@pytest.mark.skipif(not sipp_available(), reason="needs sipp (Debian sip-tester, scripts/test)")
def test_bench_sip_measures_every_figure(settings: Settings, brain: object, tmp_path: Path) -> None:
    figures = bench_sip(settings, concurrent=3, seconds=8, rate=5, workdir=tmp_path)
    assert figures["calls_offered"] == figures["calls_completed"] == 3
    assert figures["calls_with_bot_audio"] == 3  # the greeting reached every caller
    # 3 calls of at most 8 s at 50 packets a second (the bot may transfer one early)
    assert 3 * 3 * 50 < figures["rtp_packets_received"] < 3 * 10 * 50
    assert figures["late_or_missing_ratio"] is not None
    assert 0 < figures["setup_ms_p50"] <= figures["setup_ms_p95"]
    assert figures["cpu_percent"] > 0 and figures["rss_mb"] > figures["rss_idle_mb"] > 0
