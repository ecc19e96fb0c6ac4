"""``callbot bench latency`` end to end: a real ``callbot serve`` (Vosk, Piper), a scripted caller.

The arithmetic of the figures is tested on synthetic timelines in ``test_turn_timing``; here a
real run must yield turns heard from both ends (no mock: the whole path is the point).
"""

from __future__ import annotations

from callbot.config import Settings
from callbot.voice_bench import bench_latency


def test_a_real_bench_run_yields_heard_turns(settings: Settings) -> None:
    """One question cold, then one measured while another call talks (the phase alone runs
    the same code with no other caller; ``bench latency`` runs both)."""
    figures = bench_latency(settings, turns=1, stt_engine="vosk", pattern="fr_q_adresse.wav",
                            background=(1,))
    assert figures["clips"] == 1 and figures["cold"]["turns"] == 1, figures
    assert figures["greeting_latency_ms"] > 0
    busy = figures["by_background_calls"]["1"]
    assert busy["calls"] == 1 and busy["background_calls_made"] >= 1, figures
    assert busy["turns"] == 1 and 0 < busy["turn_latency_p50_ms"] <= busy["turn_latency_p99_ms"]
    split = busy["split_p50_ms"]
    if split:  # not when "un instant" came first (a loaded machine): then no split is given
        assert set(split) == {"end_of_turn", "recognition", "nlu_policy", "first_tts_chunk",
                              "playout"}
        assert abs(sum(split.values()) - busy["turn_latency_p50_ms"]) < 1.0
