"""The optional second recogniser: pipecat's Whisper service on a local faster-whisper model.

More CPU than Vosk (a whole-segment decode after each turn) but much better French: for towns
with spare cores, and for the tests, which check French speech end to end with it. Pipecat's
service loads its model per instance and expects 16 kHz; this one shares one model per process
(like Vosk and Piper) and resamples the call's audio (8 kHz on the phone) to 16 kHz itself.
The model folder comes from the model manager (``faster-whisper-base``: two PyPI packages
joined into one folder, see ``callbot.speech.install``).

Decoding runs on the process's decoder threads under the recognition deadline, as Vosk's does
(``callbot/hangs.py``): a wedged decode fails the call over to a person instead of dead air.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.transcribe import Segment
from loguru import logger
from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.types import assert_given

from callbot import faults
from callbot.pipeline.frames import NothingRecognisedFrame
from callbot.speech.audio import resample_pcm16
from callbot.speech.decoder_pool import run_decoder

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
    """Pipecat's segmented Whisper STT on a shared local model, fed 16 kHz, French by default.

    ``hang_after_sec``: one segment's decode running longer has hung (``deadlines.stt_final_sec``
    in the settings, as for Vosk); ``None``: no deadline.
    """

    def __init__(self, *, model_dir: Path, compute_type: str = "int8",
                 language: Language = Language.FR, ttfs_p99_sec: float = 1.5,
                 hang_after_sec: float | None = 5.0, **kwargs: Any):
        self._model_dir = Path(model_dir)
        self._hang_after_sec = hang_after_sec
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
        """One speech segment → its transcript, or ``NothingRecognisedFrame`` for noise.

        Replaces pipecat's ``run_stt``, whose decode runs in ``asyncio.to_thread`` with no
        deadline and no smaller hook: here it runs on the decoder pool, and past the deadline
        the ``StageTimeout`` raised here becomes the service's ``ErrorFrame`` (pipecat's
        segment loop pushes it), which hands the call to a person.
        """
        language = assert_given(self._settings.language)
        options = {"language": language, "hotwords": assert_given(self._settings.hotwords),
                   "initial_prompt": assert_given(self._settings.initial_prompt)}
        await self.start_processing_metrics()
        try:
            segments = await run_decoder(_transcribe, self._model, audio, self.sample_rate,
                                         options, deadline_sec=self._hang_after_sec)
        finally:
            await self.stop_processing_metrics()
        threshold = assert_given(self._settings.no_speech_prob)
        text = "".join(segment.text for segment in segments
                       if threshold is None or segment.no_speech_prob < threshold).strip()
        if not text:  # noise: tell the conversation no answer is owed
            yield NothingRecognisedFrame()
            return
        await self._handle_transcription(text, True, language)
        yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), language)


def _transcribe(model: WhisperModel, audio: bytes, rate_hz: int,
                options: dict[str, Any]) -> list[Segment]:
    """In a decoder thread: one segment, resampled to 16 kHz, decoded whole (faster-whisper's
    segments are a lazy generator: consumed here, not on the event loop).

    A thread written off past the deadline may still be inside the model when the next decode
    starts. faster-whisper's model is safe for concurrent ``transcribe`` calls (three threads
    at once on the shared model each got the right French text), but with one CTranslate2
    worker (``num_workers=1``, our default) they queue for it: a thread wedged *inside*
    CTranslate2 would hold it, and every later decode would miss its deadline in turn (each
    call still goes to a person). An injected hang (below) blocks before the model, so it
    holds nothing.
    """
    faults.check("stt")  # here, in the decoder thread, so that an injected hang hangs it
    audio = resample_pcm16(audio, rate_hz, WHISPER_RATE_HZ)
    samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
    segments, _ = model.transcribe(samples, **options)
    return list(segments)
