"""What the rest of the bot needs from any NLU: ``parse(text) → ParseResult``."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams
from callbot.nlu.training_data import load_training_data


class NluBackend(Protocol):
    def parse(self, text: str) -> object: ...


def load_embedded_nlu(data_dir: Path, cache_dir: Path, fallback_threshold: float) -> EmbeddedNLU:
    """Read ``nlu_data/`` and return the cached or freshly trained classifier."""
    data = load_training_data(data_dir)
    params = EmbeddedNluParams(fallback_threshold=fallback_threshold)
    return EmbeddedNLU.load_or_train(data, cache_dir, params)
