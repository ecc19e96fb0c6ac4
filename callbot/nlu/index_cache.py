"""The built topic index, kept on disk by what it was built from.

Building the index of a 190-topic knowledge base (TF-IDF over ~5 000 documents and its
calibrator) takes seconds; every ``serve`` start, ``nlu parse`` and test server used to pay
it. The index is a pure function of the knowledge base's revision, the classifier's
training data (indexed too, and its probabilities are calibration cues), the encoder and
the retriever's own code, so a file named by the hash of those is reused as is. An
unreadable file is rebuilt, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from callbot.nlu import retriever as retriever_module
from callbot.nlu import text as text_module
from callbot.nlu.retriever import TopicRetriever

_CODE = (Path(retriever_module.__file__), Path(text_module.__file__))
#: Indexes kept on disk (~7 MB each at 187 topics): every editor's save makes a new one.
KEEP_INDEXES = 6


def index_key(revision: str, examples: dict[str, list[str]], classifier_version: str,
              encoder_name: str) -> str:
    """What an index depends on, hashed; the retriever's source is part of it. ``revision``
    must name the knowledge base's content (the loader's hash; a knowledge base changed in
    code needs a revision of its own, as the bench's folds have)."""
    digest = hashlib.sha256()
    for path in _CODE:
        digest.update(path.read_bytes())
    digest.update(json.dumps([revision, classifier_version, encoder_name,
                              sorted(examples.items())], ensure_ascii=False).encode())
    return digest.hexdigest()[:24]


def load_or_build(key: str, cache_dir: Path | None, build: Callable[[], TopicRetriever],
                  attach: Callable[[TopicRetriever], None]) -> TopicRetriever:
    """The index cached under ``key``, re-attached to the live encoder and classifier
    (``attach``), else ``build()`` and cache it."""
    path = cache_dir / f"topic-index-{key}.pkl" if cache_dir else None
    if path is not None and path.exists():
        started = time.perf_counter()
        try:
            with path.open("rb") as handle:
                index = pickle.load(handle)  # noqa: S301 - our own cache file
            if isinstance(index, TopicRetriever):
                attach(index)
                logger.info(f"topic index for revision {index.revision} loaded from cache in "
                            f"{time.perf_counter() - started:.2f} s")
                return index
            logger.warning(f"topic index cache {path} holds no index; rebuilding")
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            logger.warning(f"topic index cache {path} unreadable ({exc}); rebuilding")
    index = build()
    if path is not None:
        _write(path, index)
    return index


def _write(path: Path, index: TopicRetriever) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # concurrent writers: last wins
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            pickle.dump(index, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        logger.warning(f"cannot cache the topic index in {path.parent}: {exc}")
        tmp.unlink(missing_ok=True)
        return
    prune(path.parent, KEEP_INDEXES)


def prune(cache_dir: Path, keep: int) -> None:
    """Only the ``keep`` most recently written indexes stay."""
    def written(candidate: Path) -> float:
        try:
            return candidate.stat().st_mtime
        except OSError:  # removed by another process meanwhile
            return 0.0

    indexes = sorted(cache_dir.glob("topic-index-*.pkl"), key=written, reverse=True)
    for old in indexes[keep:]:
        old.unlink(missing_ok=True)
