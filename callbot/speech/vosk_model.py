"""A Vosk model, loaded once per process and shared by every call.

Loading takes seconds and hundreds of megabytes, a recognizer takes milliseconds and a few
megabytes: so the model is loaded once (``VoskModel.load``, thread-safe, cached per path) and
each call asks it for its own ``recognizer`` at the call's sample rate.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import vosk
from loguru import logger

vosk.SetLogLevel(-1)  # Kaldi's LOG lines are noise; warnings and errors still show

UNKNOWN_WORD = "[unk]"
# What a Vosk model folder must hold (am/ acoustic model, conf/ features); graph/ varies.
_REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
# Small models build their decoding graph at run time from these, which is what lets them take
# a phrase list; big models ship a fixed HCLG.fst and ignore phrase lists.
_RUNTIME_GRAPH_FILES = ("graph/HCLr.fst", "graph/Gr.fst")
_NOT_A_WORD = re.compile(r"[^\w'’\- ]+")


class VoskModelError(Exception):
    """The Vosk model cannot be used; the message says which path and what to do."""


def check_model_dir(path: Path) -> None:
    """Raise ``VoskModelError`` unless ``path`` looks like an unpacked Vosk model folder."""
    if not path.exists():
        raise VoskModelError(
            f"Vosk model not found: {path} does not exist. Put the unpacked model folder there "
            "(the one holding am/, conf/ and graph/), or run `callbot models fetch`.")
    if not path.is_dir():
        raise VoskModelError(
            f"{path} is not a Vosk model: it is a file, a Vosk model is a folder (unzip it first).")
    missing = [name for name in _REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise VoskModelError(
            f"{path} is not a Vosk model: {', '.join(missing)} missing "
            "(expected an unpacked vosk-model-* folder).")


def normalise_phrase(phrase: str) -> str:
    """Lower case, punctuation out, spaces collapsed: the way Vosk's vocabulary spells words."""
    return " ".join(_NOT_A_WORD.sub(" ", phrase.lower().replace("’", "'")).split())


class VoskModel:
    """One loaded Vosk model; ``recognizer()`` makes the per-call decoder."""

    _loaded: ClassVar[dict[Path, VoskModel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path, model: vosk.Model, load_sec: float) -> None:
        self.path = path
        self.load_sec = load_sec
        self._model = model

    @classmethod
    def load(cls, path: Path | str) -> VoskModel:
        """The model at ``path``, loaded on first use; blocking (seconds): call it in a thread."""
        resolved = Path(path).expanduser().resolve()
        with cls._lock:
            if (loaded := cls._loaded.get(resolved)) is not None:
                return loaded
            check_model_dir(resolved)
            started = time.perf_counter()
            try:
                model = vosk.Model(str(resolved))
            except Exception as error:
                raise VoskModelError(
                    f"{resolved}: Vosk could not load this model ({error}); a file is probably "
                    "corrupt or truncated. Check it with `callbot models verify`, or unpack it "
                    "again.") from error
            loaded = cls(resolved, model, time.perf_counter() - started)
            cls._loaded[resolved] = loaded
            logger.info("Vosk model {} loaded in {:.2f} s", resolved.name, loaded.load_sec)
            return loaded

    @property
    def supports_phrases(self) -> bool:
        """True for small models (run-time graph); big ones ignore phrase lists."""
        return all((self.path / name).is_file() for name in _RUNTIME_GRAPH_FILES)

    def knows(self, word: str) -> bool:
        return self._model.vosk_model_find_word(word) >= 0

    def grammar(self, phrases: Sequence[str]) -> str:
        """The JSON phrase list Vosk takes, with ``[unk]`` so other words do not vanish.

        Words the model does not know are logged: Vosk drops them from the grammar.
        """
        normalised = list(dict.fromkeys(p for p in map(normalise_phrase, phrases) if p))
        unknown = sorted({w for p in normalised for w in p.split() if not self.knows(w)})
        if unknown:
            logger.warning("Vosk model {} does not know these phrase words, ignored: {}",
                           self.path.name, ", ".join(unknown))
        return json.dumps([*normalised, UNKNOWN_WORD], ensure_ascii=False)

    def recognizer(self, sample_rate_hz: int,
                   phrases: Sequence[str] | None = None) -> vosk.KaldiRecognizer:
        """A fresh decoder for one call, fed at ``sample_rate_hz`` (8 kHz works natively).

        With ``phrases`` (small models only) recognition is *restricted* to those phrases plus
        ``[unk]``: right for a closed question (a service name, yes/no), wrong for an open one.
        """
        if phrases and self.supports_phrases:
            recognizer = vosk.KaldiRecognizer(self._model, sample_rate_hz, self.grammar(phrases))
        else:
            if phrases:
                logger.warning("Vosk model {} has a fixed graph: phrase list ignored",
                               self.path.name)
            recognizer = vosk.KaldiRecognizer(self._model, sample_rate_hz)
        recognizer.SetWords(True)
        return recognizer
