"""``callbot bench latency`` end to end: a real ``callbot serve`` (Vosk, Piper), a scripted caller.

The arithmetic of the figures is tested on synthetic timelines in ``test_turn_timing``; here a
real run must yield turns heard from both ends (no mock: the whole path is the point).
"""

from __future__ import annotations

from callbot.config import Settings
from callbot.voice_bench import bench_latency


def test_a_real_bench_run_yields_heard_turns(settings: Settings) -> None:
    figures = bench_latency(settings, calls=1, stt_engine="vosk", pattern="fr_poubelles.wav")
    assert figures["turns"] == 1, figures
    assert figures["turn_latency_p50_ms"] > 0 and figures["greeting_latency_ms"] > 0
    assert figures["cold"]["turns"] == 1 and figures["warm"]["turns"] == 0
    split = figures["split_p50_ms"]
    if split:  # not when "un instant" came first (a loaded machine): then no split is given
        assert set(split) == {"end_of_turn", "recognition", "nlu_policy", "first_tts_chunk",
                              "playout"}
        assert abs(sum(split.values()) - figures["turn_latency_p50_ms"]) < 1.0
