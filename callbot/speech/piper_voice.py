"""A Piper voice, loaded once per process and shared by every call, and the text it is given.

Synthesis is per sentence: the first sentence of an answer can play while the next one is
being synthesised, and fixed sentences can be rendered once and cached (``PromptCache``).
Every text goes through ``callbot.kb.speakable.to_spoken`` first ("8h30" → "huit heures
trente"), then is cut into sentences; the cache and the TTS service both use
``spoken_sentences`` so that they agree on what a sentence is.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import onnxruntime
from loguru import logger
from piper import PiperVoice
from piper.config import PiperConfig

from callbot.kb.speakable import to_spoken
from callbot.speech.audio import float_to_pcm16, resample_pcm16

# One ONNX thread per synthesis, not spinning: calls run in parallel on the cores, and under
# load (many calls, 2 cores) this measured ~250 ms for a short sentence against ~450 ms with
# onnxruntime's default pool.
DEFAULT_THREADS = 1
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+(?=\S)")
# A first sentence longer than this is cut after a comma, so the caller hears it sooner.
FIRST_PIECE_MAX_WORDS = 12
FIRST_PIECE_MIN_WORDS = 4


class PiperVoiceError(Exception):
    """The Piper voice cannot be used; the message says which file and what to do."""


def spoken_sentences(text: str) -> list[str]:
    """Written French → the spoken sentences Piper is given, in order.

    A long first sentence is given in two pieces, cut at its first comma after a few words:
    the time to the first audio is the time to synthesise the first piece.
    """
    sentences = [s for s in _SENTENCE_END.split(" ".join(to_spoken(text).split())) if s]
    if sentences:
        sentences[:1] = _first_pieces(sentences[0])
    return sentences


def _first_pieces(sentence: str) -> list[str]:
    if len(sentence.split()) <= FIRST_PIECE_MAX_WORDS:
        return [sentence]
    clauses = _CLAUSE_END.split(sentence)
    for cut in range(1, len(clauses)):
        head = " ".join(clauses[:cut])
        if len(head.split()) >= FIRST_PIECE_MIN_WORDS:
            return [head, " ".join(clauses[cut:])]
    return [sentence]


def check_voice_files(onnx_path: Path) -> Path:
    """The voice's JSON config beside ``onnx_path``; ``PiperVoiceError`` if either is missing."""
    if not onnx_path.is_file():
        raise PiperVoiceError(
            f"Piper voice not found: {onnx_path} does not exist. Put the voice's .onnx file and "
            "its .onnx.json there, or run `callbot models fetch`.")
    config = onnx_path.with_name(onnx_path.name + ".json")
    if not config.is_file():
        raise PiperVoiceError(
            f"Piper voice {onnx_path} has no config: {config.name} must sit beside it "
            "(download both files of the voice).")
    return config


class PiperVoiceModel:
    """One loaded Piper voice; ``render`` / ``synthesize`` are thread-safe (piper locks espeak)."""

    _loaded: ClassVar[dict[Path, PiperVoiceModel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path, voice: PiperVoice, load_sec: float) -> None:
        self.path = path
        self.load_sec = load_sec
        self._voice = voice

    @classmethod
    def load(cls, onnx_path: Path | str, threads: int = DEFAULT_THREADS) -> PiperVoiceModel:
        """The voice at ``onnx_path``, loaded on first use; blocking: call it in a thread.

        ``threads``: ONNX threads per synthesis (0: onnxruntime's default pool).
        """
        resolved = Path(onnx_path).expanduser().resolve()
        with cls._lock:
            if (loaded := cls._loaded.get(resolved)) is not None:
                return loaded
            config = check_voice_files(resolved)
            started = time.perf_counter()
            try:
                voice = _load_voice(resolved, config, threads)
            except Exception as error:
                raise PiperVoiceError(
                    f"{resolved}: Piper could not load this voice ({type(error).__name__}: "
                    f"{error}); the file is probably corrupt or truncated. Check it with "
                    "`callbot models verify`, or download it again.") from error
            loaded = cls(resolved, voice, time.perf_counter() - started)
            cls._loaded[resolved] = loaded
            logger.info("Piper voice {} loaded in {:.2f} s", resolved.stem, loaded.load_sec)
            return loaded

    @property
    def sample_rate(self) -> int:
        """The rate the voice model produces (22050 Hz for "medium" voices)."""
        return int(self._voice.config.sample_rate)

    def synthesize(self, text: str, rate_hz: int) -> Iterator[bytes]:
        """PCM16 at ``rate_hz``, one piece per sentence Piper finds in ``text``; CPU-bound."""
        for chunk in self._voice.synthesize(text):
            yield resample_pcm16(float_to_pcm16(chunk.audio_float_array), chunk.sample_rate,
                                 rate_hz)

    def render(self, text: str, rate_hz: int) -> bytes:
        """All of ``text`` as PCM16 at ``rate_hz``; CPU-bound, call it in a thread."""
        return b"".join(self.synthesize(text, rate_hz))


def _load_voice(onnx_path: Path, config_path: Path, threads: int) -> PiperVoice:
    """``PiperVoice.load`` with our ONNX session options (piper's own takes none)."""
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    config = PiperConfig.from_dict(json.loads(config_path.read_text("utf-8")))
    session = onnxruntime.InferenceSession(str(onnx_path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    return PiperVoice(config=config, session=session)
