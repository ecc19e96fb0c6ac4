"""Turn latency as heard (``callbot.turn_timing``), on synthetic timelines: pure arithmetic."""

from __future__ import annotations

import array

import pytest

from callbot.playout import RECEIVER_JITTER_SEC
from callbot.turn_timing import CallerTurn, Chunk, Timeline, greeting_ms, hear, turn_timings

RATE = 8000
FRAME = 160  # 20 ms
LOUD = 5000


def pcm(*levels: tuple[int, int]) -> bytes:
    """PCM16 of (sample count, level) runs."""
    return array.array("h", [level for count, level in levels for _ in range(count)]).tobytes()


def caller_clip(start: float, speech_frames: int, last_loud: int = FRAME,
                silence_frames: int = 10) -> CallerTurn:
    """Frames sent every 20 ms from ``start``: speech (the last one loud up to ``last_loud``
    samples), then silence."""
    chunks = [Chunk.of(start + k * 0.02, pcm((FRAME, LOUD))) for k in range(speech_frames - 1)]
    at = start + (speech_frames - 1) * 0.02
    chunks.append(Chunk.of(at, pcm((last_loud, LOUD), (FRAME - last_loud, 0))))
    chunks += [Chunk.of(at + (k + 1) * 0.02, pcm((FRAME, 0))) for k in range(silence_frames)]
    return CallerTurn(chunks)


def bot_burst(arrival: float, frames: int, lead_silence: int = 0, frame: int = 800) -> list[Chunk]:
    """100 ms frames that all arrive at once (sent ahead), the first with leading silence."""
    first = Chunk.of(arrival, pcm((lead_silence, 0), (frame - lead_silence, LOUD)))
    return [first] + [Chunk.of(arrival, pcm((frame, LOUD))) for _ in range(frames - 1)]


def test_a_chunk_of_pcm_knows_where_its_loud_samples_are() -> None:
    chunk = Chunk.of(1.0, pcm((30, 0), (10, LOUD), (5, -LOUD), (55, 100)))
    assert (chunk.samples, chunk.loud_first, chunk.loud_last) == (100, 30, 44)
    assert Chunk.of(1.0, pcm((100, 599))).loud_first is None


def test_audio_sent_ahead_is_heard_back_to_back_not_on_arrival() -> None:
    heard = hear(bot_burst(10.0, 3), RATE)
    assert [round(h.start, 3) for h in heard] == [10.02, 10.12, 10.22]


def test_a_clear_cuts_what_is_still_buffered() -> None:
    heard = hear(bot_burst(10.0, 5), RATE, clears=[10.15])
    assert [round(h.end - h.start, 3) for h in heard] == [0.1, 0.03, 0.0, 0.0, 0.0]
    assert heard[2].first_loud is None  # never heard
    after = hear([*bot_burst(10.0, 5), *bot_burst(10.2, 1)], RATE, clears=[10.15])
    assert round(after[-1].start, 3) == 10.22  # a new talk-spurt, not the queue's tail


def test_latency_runs_from_the_last_loud_sample_to_the_first_heard_one() -> None:
    # caller: 50 frames from t=0, the last speech sample is the 80th of frame 49 (sent 0.98 s)
    clip = caller_clip(0.0, 50, last_loud=80)
    speech_end = 0.98 + 80 / RATE + RECEIVER_JITTER_SEC
    # the bot's answer arrives 0.4 s after that, 0.05 s of leading silence, all of it at once
    arrival = speech_end + 0.4
    bot = bot_burst(arrival, 4, lead_silence=400)
    timeline = Timeline(RATE, -1.0, caller=[clip], bot=bot)
    [timing] = turn_timings(timeline)
    assert timing.speech_end == pytest.approx(speech_end)
    assert timing.latency_ms == pytest.approx(400 + 20 + 50, abs=0.1)
    assert not timing.overlapped and not timing.cut_early and timing.split_ms is None


def test_the_split_adds_up_to_the_latency() -> None:
    clip = caller_clip(0.0, 50)
    speech_end = 1.0 + RECEIVER_JITTER_SEC
    report_at = speech_end + 0.45  # VAD stop at +0.3, transcript 0.1 after it, 0.05 of NLU
    report = {"caller": "bonjour", "after_vad_stop_ms": 150.0,
              "latencies_ms": {"stt_after_speech": 100.0, "nlu": 3.0}}
    bot = bot_burst(report_at + 0.08, 3, lead_silence=160)
    timeline = Timeline(RATE, -1.0, caller=[clip], bot=bot, reports=[(report_at, report)])
    [timing] = turn_timings(timeline)
    assert timing.split_ms == pytest.approx({"end_of_turn": 300.0, "recognition": 100.0,
                                             "nlu_policy": 50.0, "first_tts_chunk": 80.0,
                                             "playout": 40.0}, abs=0.1)
    assert sum(timing.split_ms.values()) == pytest.approx(timing.latency_ms, abs=0.5)
    assert timing.answer_at == report_at and not timing.before_answer


def test_a_bot_still_talking_at_the_end_of_speech_gives_no_latency() -> None:
    clip = caller_clip(0.0, 50)  # speech heard until 1.02
    bot = bot_burst(0.7, 5)  # heard 0.72 → 1.22: over the end of the caller's speech
    report = (0.6, {"caller": "bonjour"})  # answered at the comma pause
    [timing] = turn_timings(Timeline(RATE, -1.0, caller=[clip], bot=bot, reports=[report]))
    assert timing.overlapped and timing.cut_early and timing.latency_ms is None


def test_a_turn_ended_at_a_pause_is_cut_early_even_if_answered_late() -> None:
    clip = caller_clip(0.0, 50)  # speech heard until 1.02
    report = (1.3, {"caller": "bonjour", "after_vad_stop_ms": 700.0})  # VAD stop at 0.6
    [timing] = turn_timings(Timeline(RATE, -1.0, caller=[clip], bot=bot_burst(1.4, 2),
                                     reports=[report]))
    assert timing.cut_early and not timing.overlapped and timing.split_ms is None
    assert timing.latency_ms == pytest.approx(400.0, abs=0.1)


def test_hold_on_prompt_heard_first_is_counted_before_the_answer() -> None:
    clip = caller_clip(0.0, 50)
    hold_on = bot_burst(2.6, 2)
    answer = bot_burst(4.0, 2)
    timeline = Timeline(RATE, -1.0, caller=[clip], bot=hold_on + answer,
                        reports=[(3.9, {"caller": "bonjour"})])
    [timing] = turn_timings(timeline)
    assert timing.before_answer and timing.split_ms is None
    assert timing.latency_ms == pytest.approx((2.62 - 1.02) * 1000, abs=0.1)


def test_each_turn_takes_the_audio_before_the_next_one_and_keys_count() -> None:
    first, second = caller_clip(0.0, 50), caller_clip(5.0, 50)
    key = CallerTurn(key_at=9.0)
    bot = bot_burst(1.5, 2) + bot_burst(9.3, 2)  # nothing answers the second clip
    [one, two, three] = turn_timings(Timeline(RATE, 0.0, caller=[first, second, key], bot=bot))
    assert one.latency_ms == pytest.approx(500.0, abs=0.1)
    assert two.first_audio is None and two.latency_ms is None
    assert three.latency_ms == pytest.approx(320.0, abs=0.1)


def test_greeting_is_the_first_loud_sample_heard_after_the_start() -> None:
    timeline = Timeline(RATE, 0.0, bot=bot_burst(0.05, 3, lead_silence=240))
    assert greeting_ms(timeline) == pytest.approx(50 + 20 + 30, abs=0.1)
    assert greeting_ms(Timeline(RATE, 0.0)) is None
