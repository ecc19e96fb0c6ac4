"""Audio preview for the FAQ editor: the configured Piper voice, as WAV bytes."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Awaitable, Callable

from loguru import logger

from callbot.config import Settings
from callbot.speech.models import resolve_model
from callbot.speech.registry import ModelError

Synthesizer = Callable[[str], Awaitable[bytes]]


def piper_preview(settings: Settings) -> Synthesizer | None:
    """A synthesizer for spoken text, or ``None`` (logged) when no voice is installed.

    The voice is loaded on the first preview, in a thread, then shared (PiperVoiceModel).
    """
    try:
        voice_path = resolve_model(settings.models.tts_voice, settings)
    except ModelError as exc:
        logger.info(f"audio preview off: {exc}")
        return None

    def render(text: str) -> bytes:
        from callbot.speech.piper_voice import PiperVoiceModel

        voice = PiperVoiceModel.load(voice_path)
        pcm = voice.render(text, voice.sample_rate)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(voice.sample_rate)
            wav.writeframes(pcm)
        return buffer.getvalue()

    async def synthesize(text: str) -> bytes:
        return await asyncio.to_thread(render, text)

    return synthesize
