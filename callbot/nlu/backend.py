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


def training_examples(data_dir: Path) -> dict[str, list[str]]:
    """The Rasa examples by intent: the contract's topics are indexed with theirs, and the
    out-of-scope ones teach the retriever's calibrator what no topic should answer."""
    data = load_training_data(data_dir)
    return {intent: [e.text for e in examples] for intent, examples in data.by_intent().items()}
