"""``callbot bench load``: the arithmetic, the verdict on each call, the receiver's late frames,
and a short overload run against a real ``callbot serve`` (real Vosk and Piper models)."""

from __future__ import annotations

import pytest

from callbot.call_client import CallReport
from callbot.cli import build_parser
from callbot.config import Settings
from callbot.load_bench import bench_load, peak_calls_per_hour
from callbot.load_websocket import outcome
from callbot.playout import Playout

FRAME_SEC = 0.04


def test_monday_peak_of_a_500_calls_a_day_town() -> None:
    assert peak_calls_per_hour(500) == pytest.approx(150.0)


def test_frames_on_time_or_ahead_are_never_late() -> None:
    playout = Playout()
    for k in range(50):  # sent 100 ms ahead after a burst: always in the buffer
        playout.arrive(max(0.0, k * FRAME_SEC - 0.1), FRAME_SEC)
    assert (playout.frames, playout.late, playout.spurts) == (50, 0, 1)


def test_a_frame_after_the_buffer_ran_dry_is_late_once() -> None:
    playout = Playout(jitter_sec=0.02)
    playout.arrive(0.0, FRAME_SEC)  # plays 0.02 → 0.06
    assert playout.arrive(0.1, FRAME_SEC)  # 40 ms of hole: late
    assert not playout.arrive(0.12, FRAME_SEC)  # re-buffered: plays on from 0.16
    assert playout.late == 1 and playout.late_ratio == pytest.approx(1 / 3)


def test_a_pause_between_turns_is_a_new_talk_spurt() -> None:
    playout = Playout()
    playout.arrive(0.0, FRAME_SEC)
    assert not playout.arrive(2.0, FRAME_SEC)
    assert (playout.late, playout.spurts) == (0, 2)


def test_call_verdicts() -> None:
    assert outcome(CallReport(close_code=1013)) == "refused"
    assert outcome(CallReport(close_code=1006)) == "failed:not_started"
    assert outcome(CallReport(call_id="a")) == "failed:no_greeting"
    assert outcome(CallReport(call_id="a", greeting_latency_ms=150.0, close_code=1011)) \
        == "failed:closed_1011"
    assert outcome(CallReport(call_id="a", greeting_latency_ms=150.0, close_code=1000)) \
        == "completed"


def test_overload_run_completes_or_refuses_every_call(settings: Settings, brain: object) -> None:
    """One call slot, three calls 5 s apart: the first is answered (a call lasts longer than
    its greeting, over 10 s), the other two find the slot taken and are refused."""
    args = build_parser().parse_args(["bench", "load", "--profile", "overload", "--duration", "12",
                                      "--max-calls", "1", "--call-sec", "10"])
    figures = bench_load(settings, args)
    for key in ("calls_offered", "calls_completed", "calls_refused", "calls_failed",
                "late_frame_ratio", "log_records_lost", "rss_start_mb", "rss_end_mb",
                "max_concurrent"):
        assert key in figures, key
    assert figures["calls_failed"] == 0, figures["phases"]
    assert figures["calls_completed"] + figures["calls_refused"] == figures["calls_offered"]
    assert (figures["calls_offered"], figures["calls_completed"], figures["calls_refused"]) \
        == (3, 1, 2), figures["phases"]
    assert figures["log_records_lost"] == 0
    assert figures["calls_in_store"] == figures["calls_ended_in_serve_log"] == 1
    assert figures["max_concurrent"] == 1
    assert figures["frames_expected"] == figures["phases"]["overload"]["frames_received"] > 0
