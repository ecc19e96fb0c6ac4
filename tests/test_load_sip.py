"""``callbot bench load --transport sip`` and the soak: the verdict on each sipp call, the leak
slope, and short runs of real sipp callers against a real ``callbot serve`` (real Vosk and
Piper models, the bot's RTP captured on the loopback). The 10-minute and 1 000-call figures
come from the command (docs/benchmarks.md, load section); no speed is asserted here.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbot.cli import build_parser
from callbot.config import Settings
from callbot.load_bench import bench_load, rss_slope_mb_per_100_calls
from callbot.load_sip import sip_outcome
from callbot.rtp_capture import RtpCapture
from callbot.sip_bench import free_udp_ports
from callbot.sipp import SippRun, invite_exchanges, place_call, sipp_available
from tests.test_sip_bench import FIXTURES

needs_sipp = pytest.mark.skipif(not sipp_available(),
                                reason="needs sipp (Debian sip-tester, scripts/test)")
needs_capture = pytest.mark.skipif(not RtpCapture.available(),
                                   reason="capturing on the loopback needs root")
KEYS = ("calls_offered", "calls_completed", "calls_refused", "calls_failed", "late_frame_ratio",
        "log_records_lost", "rss_start_mb", "rss_end_mb", "max_concurrent",
        "rss_slope_mb_per_100_calls")


def test_invite_final_status_from_a_real_sipp_message_log() -> None:
    """The transferred bench call: its INVITE's final answer is the 200, not the 100 before it
    nor the 200s to REFER and BYE after it; a busy bot's 486 is that call's final answer."""
    log = (FIXTURES / "bench_transfer_messages.log").read_text()
    [exchange] = invite_exchanges(log).values()
    assert exchange.status == 200 and exchange.answered_at is not None
    [busy] = invite_exchanges(log.replace("SIP/2.0 200 OK\n", "SIP/2.0 486 Busy Here\n", 1)).values()
    assert busy.status == 486


def test_verdict_on_each_sipp_call() -> None:
    assert sip_outcome(SippRun(0, offered=1, successful=1, statuses=[200])) == "completed"
    assert sip_outcome(SippRun(1, offered=1, failed=1, statuses=[486])) == "refused"
    assert sip_outcome(SippRun(1, offered=1, failed=1, statuses=[200])) == "failed:dropped"
    assert sip_outcome(SippRun(1, offered=1, failed=1, statuses=[503])) == "failed:sip_503"
    assert sip_outcome(SippRun(1, offered=1, failed=1)) == "failed:no_answer"
    assert sip_outcome(SippRun(255)) == "failed:sipp_exit_255"


def test_leak_slope_ignores_the_first_third() -> None:
    """Memory jumps with the first wave of calls, then: flat, or 0.2 MB more per call."""
    warm = [(0, 850.0), (100, 1300.0), (200, 1310.0)]
    flat = warm + [(300, 1305.0), (400, 1312.0), (500, 1308.0), (600, 1309.0)]
    leaking = warm + [(calls, 1310.0 + 0.2 * (calls - 200)) for calls in (300, 400, 500, 600)]
    assert abs(rss_slope_mb_per_100_calls(flat) or 0) < 2
    assert rss_slope_mb_per_100_calls(leaking) == pytest.approx(20.0)
    assert rss_slope_mb_per_100_calls([(0, 850.0), (3, 900.0)]) is None  # one point in the tail


_ANSWER_SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
              "m=audio 9 RTP/AVP 0\r\n"
_DIALOG_HEADER = re.compile(r"^(via|from|to|call-id|cseq):", re.I)


def _response(request: str, status: str, extra: str = "", body: str = "") -> bytes:
    headers = [line + (";tag=uas" if line.lower().startswith("to:") and "tag=" not in line else "")
               for line in request.split("\r\n") if _DIALOG_HEADER.match(line)]
    return (f"SIP/2.0 {status}\r\n" + "\r\n".join(headers) + extra
            + f"\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


@pytest.fixture
def answers_then_trying() -> Iterator[int]:
    """A UAS that sends 200 OK, then a late 100 Trying for the same INVITE (what the bot did
    once at load 36, answering a retransmitted INVITE), and answers BYE. A scripted peer: the
    real bot cannot be made to reorder its responses on demand."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port, stop = sock.getsockname()[1], threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            request = data.decode()
            if request.startswith("INVITE"):
                contact = f"\r\nContact: <sip:uas@127.0.0.1:{port}>\r\nContent-Type: application/sdp"
                sock.sendto(_response(request, "200 OK", contact, _ANSWER_SDP), peer)
                sock.sendto(_response(request, "100 Trying"), peer)
            elif request.startswith("BYE"):
                sock.sendto(_response(request, "200 OK"), peer)

    thread = threading.Thread(target=serve, name="late-trying-uas", daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    sock.close()


@needs_sipp
def test_a_late_trying_after_the_answer_is_not_a_failed_call(answers_then_trying: int,
                                                             tmp_path: Path) -> None:
    run = asyncio.run(place_call(f"127.0.0.1:{answers_then_trying}", tmp_path, call_sec=1,
                                 sip_port=free_udp_ports(1), media_port=free_udp_ports(4),
                                 caller="+33139000001"))
    assert (run.statuses, run.successful, run.failed) == ([200], 1, 0), run.output
    assert sip_outcome(run) == "completed"
    assert "Ignoring provisional" in next(tmp_path.glob("*_messages.log")).read_text()


@needs_capture
@needs_sipp
def test_sip_overload_completes_or_refuses_every_call(settings: Settings, brain: object) -> None:
    """Two call slots, calls of 12 s arriving every 3 s: the first two are answered and still
    on the line when the next two arrive, which get 486 Busy Here."""
    args = build_parser().parse_args(["bench", "load", "--transport", "sip", "--profile",
                                      "overload", "--duration", "12", "--max-calls", "2",
                                      "--call-sec", "12"])
    figures = bench_load(settings, args)
    assert all(key in figures for key in KEYS)
    # arrivals at 0, 3, 6, 9 s (and 12 s when the machine is slow to stop the phase): the
    # first two are answered, every later one is refused, none fails
    assert figures["calls_offered"] in (4, 5), figures["phases"]
    assert (figures["calls_completed"], figures["calls_failed"]) == (2, 0), figures["phases"]
    assert figures["calls_refused"] == figures["calls_offered"] - 2, figures["phases"]
    assert figures["log_records_lost"] == 0
    assert figures["calls_in_store"] == figures["calls_ended_in_serve_log"] == 2
    assert figures["max_concurrent"] == 2
    overload = figures["phases"]["overload"]
    assert overload["calls_with_bot_audio"] == 2  # the greeting reached both callers
    # 2 calls of 12 s at 50 packets a second
    assert 2 * 8 * 50 < overload["rtp_packets_received"] <= figures["frames_expected"] < 2 * 15 * 50
    assert figures["late_frame_ratio"] is not None


@needs_capture
@needs_sipp
def test_sip_soak_samples_memory_every_few_calls(settings: Settings, brain: object) -> None:
    """Six calls of 4 s, two callers back to back, memory sampled every 2 calls ended."""
    args = build_parser().parse_args(["bench", "load", "--transport", "sip", "--profile", "soak",
                                      "--calls", "6", "--max-calls", "2", "--call-sec", "4",
                                      "--rss-every", "2"])
    figures = bench_load(settings, args)
    assert all(key in figures for key in KEYS)
    assert figures["calls_failed"] == 0, figures["phases"]
    # a caller calling back as its call ends may find the slot not released yet: refused cleanly
    assert figures["calls_completed"] + figures["calls_refused"] == figures["calls_offered"] == 6
    assert figures["log_records_lost"] == 0
    assert figures["calls_in_store"] == figures["calls_completed"]
    calls_ended = [calls for calls, _ in figures["rss_mb_by_calls_ended"]]
    assert calls_ended[0] == 0 and calls_ended[-1] == figures["calls_completed"]
    assert len(calls_ended) >= 3
    assert figures["rss_slope_mb_per_100_calls"] is not None
