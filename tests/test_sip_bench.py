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
from callbot.sipp import setup_times_ms, sipp_available

FIXTURES = Path(__file__).parent / "fixtures" / "sipp"

needs_capture = pytest.mark.skipif(not RtpCapture.available(),
                                   reason="capturing on the loopback needs root")


def test_setup_time_from_a_real_sipp_message_log() -> None:
    """A bench call that was transferred (sipp -trace_msg): INVITE → 100 → 200 → … REFER,
    NOTIFY and BYE, whose 200 OKs are not the answer to the INVITE."""
    log = (FIXTURES / "bench_transfer_messages.log").read_text()
    assert setup_times_ms(log) == [pytest.approx(4.001)]
    assert setup_times_ms(log.replace("SIP/2.0 200 OK\n", "SIP/2.0 486 Busy Here\n")) == []


@needs_capture
def test_capture_counts_holes_and_late_packets() -> None:
    """65 slots of 20 ms from a port of the range: one packet lost (a hole in the numbering),
    then a 100 ms stall after which the sender skips the 5 slots it missed (numbering
    contiguous, as a sender restarting its clock does)."""
    base = free_udp_ports(2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        sender.bind(("127.0.0.1", base))
        with RtpCapture(base, base) as capture:
            sender.sendto(b"not rtp", receiver.getsockname())
            sequence, start = 65500, time.monotonic()
            for slot in range(65):
                if 40 <= slot < 45:
                    continue  # stalled: these slots are never sent
                time.sleep(max(0.0, start + 0.02 * slot - time.monotonic()))
                if slot != 20:  # lost
                    voice = bytes(range(160)) if slot >= 35 else b"\xff" * 160
                    sender.sendto(bytes(RtpPacket(0, sequence, 160 * slot, 7, voice)),
                                  receiver.getsockname())
                sequence += 1
            time.sleep(0.3)
    [stream] = capture.streams()
    assert (stream.source_port, stream.received, stream.sequence_holes) == (base, 59, 1)
    # the lost packet and the 5 skipped slots, more if this loaded machine slept late
    assert stream.missing >= 6
    assert stream.late >= 1 and stream.voiced == 25
    assert capture.unusable == 1
    assert late_or_missing_ratio([stream]) == pytest.approx(
        (stream.late + stream.missing) / (59 + stream.missing))


@needs_capture
@pytest.mark.skipif(not sipp_available(), reason="needs sipp (Debian sip-tester, scripts/test)")
def test_bench_sip_measures_every_figure(settings: Settings, brain: object, tmp_path: Path) -> None:
    figures = bench_sip(settings, concurrent=3, seconds=8, rate=5, workdir=tmp_path)
    assert figures["calls_offered"] == 3
    # a loaded CI machine has let one sipp call time out once: the bench counts it, not hides it
    assert figures["calls_completed"] >= 2
    assert figures["calls_with_bot_audio"] == 3  # the greeting reached every caller
    # 3 calls of at most 8 s at 50 packets a second (the bot may transfer one early)
    assert 3 * 3 * 50 < figures["rtp_packets_received"] < 3 * 10 * 50
    assert figures["late_or_missing_ratio"] is not None
    assert 0 < figures["setup_ms_p50"] <= figures["setup_ms_p95"]
    assert figures["cpu_percent"] > 0 and figures["rss_mb"] > figures["rss_idle_mb"] > 0
