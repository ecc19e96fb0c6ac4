"""Benchmarks that print figures (never timed unit tests): NLU training, parsing, memory."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from callbot.config import Settings
from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams
from callbot.nlu.evaluation import percentile
from callbot.nlu.training_data import load_training_data

_PARSE_SAMPLES = (
    "bonjour je voudrais refaire ma carte d'identité",
    "la déchetterie est ouverte samedi",
    "euh c'est quand qu'ils passent pour les poubelles",
    "je voudrais parler à quelqu'un",
    "quel temps fera-t-il demain",
)
_PARSES = 1000


_SERVING_PROBE = """
import sys
from callbot.cli import main
main(["nlu", "parse", "--batch"])
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) / 1024, file=sys.stderr)
"""


def _serving_rss_mb(settings: Settings, cache_dir: str) -> float:
    """Peak memory of a fresh process that loads the cached model and parses (a bot process).

    Read from the child's own VmHWM: ``RUSAGE_CHILDREN`` would count the parent's memory
    copied by fork before exec.
    """
    lines = "\n".join(_PARSE_SAMPLES * 20).encode()
    env = {**os.environ, "CALLBOT_NLU__CACHE_DIR": cache_dir,
           "CALLBOT_DATA_DIR": str(settings.data_dir)}
    done = subprocess.run([sys.executable, "-c", _SERVING_PROBE], input=lines, env=env,
                          capture_output=True, check=True, timeout=300)
    return float(done.stderr.decode().strip().splitlines()[-1])


def bench_nlu(settings: Settings, repeat: int = 3) -> dict[str, float]:
    """Median training time over ``repeat`` runs, parse p50/p95, memory when training/serving."""
    data = load_training_data(settings.data_dir)
    params = EmbeddedNluParams(fallback_threshold=settings.nlu.fallback_threshold)
    train_times = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        nlu = EmbeddedNLU.train(data, params)
        train_times.append(time.perf_counter() - started)
    latencies = []
    for index in range(_PARSES):
        text = _PARSE_SAMPLES[index % len(_PARSE_SAMPLES)]
        started = time.perf_counter()
        nlu.parse(text)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    training_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as cache_dir:
        EmbeddedNLU.load_or_train(data, Path(cache_dir), params)
        serving_rss_mb = _serving_rss_mb(settings, cache_dir)
    return {
        "examples": len(data.examples),
        "train_s_median": round(statistics.median(train_times), 3),
        "parse_ms_p50": round(statistics.median(latencies), 3),
        "parse_ms_p95": round(percentile(latencies, 0.95), 3),
        "training_peak_rss_mb": round(training_rss_mb, 1),
        "serving_peak_rss_mb": round(serving_rss_mb, 1),
    }
