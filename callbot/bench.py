"""Benchmarks that print figures (never timed unit tests): NLU training, parsing, memory."""

from __future__ import annotations

import resource
import statistics
import time

from callbot.config import Settings
from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams
from callbot.nlu.training_data import load_training_data

_PARSE_SAMPLES = (
    "bonjour je voudrais refaire ma carte d'identité",
    "la déchetterie est ouverte samedi",
    "euh c'est quand qu'ils passent pour les poubelles",
    "je voudrais parler à quelqu'un",
    "quel temps fera-t-il demain",
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_nlu(settings: Settings, repeat: int = 3) -> dict[str, float]:
    """Median training time over ``repeat`` runs, parse p50/p95, peak memory."""
    data = load_training_data(settings.data_dir)
    params = EmbeddedNluParams(fallback_threshold=settings.nlu.fallback_threshold)
    train_times, nlu = [], None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        nlu = EmbeddedNLU.train(data, params)
        train_times.append(time.perf_counter() - started)
    assert nlu is not None
    latencies = []
    for _ in range(200):
        for text in _PARSE_SAMPLES:
            started = time.perf_counter()
            nlu.parse(text)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "examples": len(data.examples),
        "train_s_median": round(statistics.median(train_times), 3),
        "parse_ms_p50": round(statistics.median(latencies), 3),
        "parse_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "peak_rss_mb": round(_rss_mb(), 1),
    }
