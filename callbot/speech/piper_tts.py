"""Piper as a pipecat TTS service: audio at the call's rate, sentence by sentence, cached prompts.

Each sentence is synthesised in a thread and resampled there to the pipeline's output rate
(8 kHz on the phone); its audio is queued for playback at once, so the first sentence plays
while the next ones are synthesised. Sentences found in the ``PromptCache`` cost nothing. The
first sentence of a text starts at its first sound: the voice's leading silence is dead air.
Synthesis runs on the process's ``tts`` pool under a deadline (``callbot/hangs.py``): a
sentence not rendered within ``first_audio_timeout_sec`` (or ``timeout_sec_per_char`` per
character, for a long one) fails like a crash of Piper.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language

from callbot import faults
from callbot.hangs import stage_pool
from callbot.speech.audio import chunks, trim_leading_silence
from callbot.speech.piper_voice import PiperVoiceModel, spoken_sentences
from callbot.speech.prompt_cache import PromptCache

AUDIO_FRAME_MS = 200  # size of the TTSAudioRawFrames; the output transport re-cuts them


class PiperTTSService(TTSService):
    """Speech for one call from a shared Piper voice (and a shared prompt cache)."""

    def __init__(self, *, voice: PiperVoiceModel, cache: PromptCache | None = None,
                 language: Language = Language.FR, first_audio_timeout_sec: float = 1.5,
                 timeout_sec_per_char: float = 0.02, **kwargs: Any):
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=voice.path.name, voice=voice.path.stem, language=language),
            **kwargs,
        )
        self._voice = voice
        self._cache = cache
        self._first_audio_timeout_sec = first_audio_timeout_sec
        self._timeout_sec_per_char = timeout_sec_per_char

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        """Yield each sentence's audio as soon as it exists (from the cache or from Piper)."""
        rate = self.sample_rate
        await self.start_tts_usage_metrics(text)
        try:
            for number, sentence in enumerate(spoken_sentences(text)):
                audio = self._cache.get(sentence, rate) if self._cache is not None else None
                if audio is None:
                    deadline_sec = max(self._first_audio_timeout_sec,
                                       len(sentence) * self._timeout_sec_per_char)
                    audio = await stage_pool("tts").run(
                        "tts", deadline_sec, self._render, sentence, rate)
                    if self._cache is not None:
                        self._cache.remember(sentence, rate, audio)
                if number == 0:  # the caller waits for it; later pauses are the voice's rhythm
                    audio = trim_leading_silence(audio, rate)
                await self.stop_ttfb_metrics()
                for piece in chunks(audio, rate, AUDIO_FRAME_MS):
                    yield TTSAudioRawFrame(piece, rate, 1, context_id=context_id)
        except Exception as error:
            await self.push_error(f"{self}: speech synthesis failed for [{text}]: {error}",
                                  exception=error)
            # end this audio now: what comes next (the fallback prompt) must not wait for
            # pipecat to time the silent context out (stop_frame_timeout_s, 3 s)
            await self.remove_audio_context(context_id)
        finally:
            await self.stop_ttfb_metrics()

    def _render(self, sentence: str, rate: int) -> bytes:
        """In a ``tts`` pool thread (where an injected hang must hang)."""
        faults.check("tts")
        return self._voice.render(sentence, rate)
