"""The optional second recogniser: pipecat's Whisper service on a local faster-whisper model.

More CPU than Vosk (a whole-segment decode after each turn) but much better French: for towns
with spare cores, and for the tests, which check French speech end to end with it. Pipecat's
service loads its model per instance and expects 16 kHz; this one shares one model per process
(like Vosk and Piper) and resamples the call's audio (8 kHz on the phone) to 16 kHz itself.
The model folder comes from the model manager (``faster-whisper-base``: two PyPI packages
joined into one folder, see ``callbot.speech.install``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, ClassVar

from faster_whisper import WhisperModel
from loguru import logger
from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language

from callbot.pipeline.frames import NothingRecognisedFrame
from callbot.speech.audio import resample_pcm16

WHISPER_RATE_HZ = 16000
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


class WhisperModelError(Exception):
    """The Whisper model cannot be used; the message says which folder and what to do."""


def load_whisper_model(path: Path, compute_type: str = "int8") -> WhisperModel:
    """The faster-whisper model in ``path``, loaded once per process; blocking (seconds)."""
    return _SharedWhisper.load(Path(path), compute_type)


class _SharedWhisper:
    _loaded: ClassVar[dict[tuple[Path, str], WhisperModel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def load(cls, path: Path, compute_type: str) -> WhisperModel:
        resolved = path.expanduser().resolve()
        with cls._lock:
            if (model := cls._loaded.get((resolved, compute_type))) is not None:
                return model
            missing = [name for name in _MODEL_FILES if not (resolved / name).is_file()]
            if missing:
                raise WhisperModelError(
                    f"{resolved} is not a faster-whisper model: {', '.join(missing)} missing "
                    "(run `callbot models fetch faster-whisper-base`, or give the folder of a "
                    "CTranslate2 Whisper model).")
            started = time.perf_counter()
            try:
                model = WhisperModel(str(resolved), device="cpu", compute_type=compute_type)
            except Exception as error:
                raise WhisperModelError(
                    f"{resolved}: faster-whisper could not load this model ({error}); a file is "
                    "probably corrupt. Check it with `callbot models verify`.") from error
            cls._loaded[(resolved, compute_type)] = model
            logger.info("Whisper model {} loaded in {:.2f} s", resolved.name,
                        time.perf_counter() - started)
            return model


class LocalWhisperSTTService(WhisperSTTService):
    """Pipecat's segmented Whisper STT on a shared local model, fed 16 kHz, French by default."""

    def __init__(self, *, model_dir: Path, compute_type: str = "int8",
                 language: Language = Language.FR, ttfs_p99_sec: float = 1.5, **kwargs: Any):
        self._model_dir = Path(model_dir)
        super().__init__(
            device="cpu",
            ttfs_p99_latency=ttfs_p99_sec,  # a whole-segment decode after the VAD stop
            compute_type=compute_type,
            settings=WhisperSTTService.Settings(model=str(model_dir), language=language),
            **kwargs,
        )

    def _load(self) -> None:
        """Take the process-wide model instead of loading one per call (pipecat's default)."""
        self._model = load_whisper_model(self._model_dir, self._compute_type)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Resample one speech segment to 16 kHz, then let pipecat's service transcribe it."""
        if self.sample_rate != WHISPER_RATE_HZ:
            audio = await asyncio.to_thread(resample_pcm16, audio, self.sample_rate,
                                            WHISPER_RATE_HZ)
        heard = False
        async for frame in super().run_stt(audio):
            heard = heard or (isinstance(frame, TranscriptionFrame) and bool(frame.text.strip()))
            yield frame
        if not heard:  # noise: tell the conversation no answer is owed
            yield NothingRecognisedFrame()
