"""Embedded NLU vs Rasa on the same questions and the same k-fold split of ``nlu_data``.

Both backends go through ``callbot.nlu.evaluation`` (``evaluate``, ``cross_validate``), so
the figures mean the same thing. Rasa is measured through its HTTP API, as the bot uses it
(parse latency includes the request); its client has no fallback here, so a Rasa failure
stops the comparison instead of silently measuring the embedded NLU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callbot.config import Settings
from callbot.nlu.evaluation import Answers, cross_validate, evaluate, read_tsv
from callbot.nlu.result import ParseResult
from callbot.nlu.training_data import TrainingData, load_training_data

_REPORTED = ("accuracy", "macro_f1", "out_of_scope_recall", "confident_wrong_rate",
             "parse_p50_ms", "parse_p95_ms")


Parse = Callable[[str], ParseResult]


@dataclass
class Contender:
    """One backend under test, trained on all of ``nlu_data``, and how to train it on a fold."""

    name: str
    parse: Parse
    train_seconds: float
    train_fold: Callable[[TrainingData], Parse]
    memory_mb: Callable[[], float]


def measure(contender: Contender, data: TrainingData, questions: dict[str, list[tuple[str, str]]],
            answers: Answers, folds: int) -> dict[str, Any]:
    """Held-out figures per question file, k-fold figures, training time, memory."""
    figures: dict[str, Any] = {"train_seconds": round(contender.train_seconds, 2)}
    for label, rows in questions.items():
        report = evaluate(contender.parse, rows, answers).to_dict()
        figures[label] = {k: round(report[k], 4) for k in _REPORTED}
    figures["memory_mb"] = round(contender.memory_mb(), 1)
    if folds > 1:
        cv = cross_validate(data, lambda fold: _Parser(contender.train_fold(fold)), folds=folds)
        figures["cross_validation"] = {"folds": cv.folds, "accuracy": round(cv.accuracy, 4),
                                       "macro_f1": round(cv.macro_f1, 4)}
    return figures


class _Parser:
    """``cross_validate`` wants an object with ``parse``."""

    def __init__(self, parse: Parse) -> None:
        self.parse = parse


def embedded_contender(settings: Settings) -> Contender:
    from callbot.bench import _serving_rss_mb  # the bench's serving-process probe, reused
    from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams

    params = EmbeddedNluParams(fallback_threshold=settings.nlu.fallback_threshold)

    def memory_mb() -> float:
        import tempfile

        with tempfile.TemporaryDirectory() as cache:
            EmbeddedNLU.load_or_train(load_training_data(settings.data_dir), Path(cache), params)
            return _serving_rss_mb(settings, cache)

    started = time.perf_counter()
    full = EmbeddedNLU.train(load_training_data(settings.data_dir), params)
    return Contender("embedded", full.parse, time.perf_counter() - started,
                     lambda d: EmbeddedNLU.train(d, params).parse, memory_mb)


def rasa_contender(settings: Settings, quiet: bool = True) -> tuple[Contender, Callable[[], None]]:
    """A Rasa server on a free port; folds are loaded into it with ``PUT /model``.

    Returns the contender and the function that stops the server and its client.
    """
    from callbot.nlu.rasa_http import RasaHttpNLU
    from callbot.ports import free_port
    from callbot.rasa.stack import ensure_env, pipeline_params, start_server, train_model
    from callbot.rasa.training import train

    env = ensure_env(settings, quiet=quiet)
    full = train_model(settings, quiet=quiet)
    server = start_server(settings, full.path, port=free_port(), quiet=quiet)
    client = RasaHttpNLU(server.url, timeout_sec=30.0)  # no fallback: measure Rasa only

    def train_fold(data: TrainingData) -> Parse:
        model = train(env, settings.nlu.rasa_home, data, pipeline_params(settings),
                      quiet=quiet, name="fold")
        server.replace_model(model.path)
        return client.parse

    def close() -> None:
        client.close()
        server.stop()

    return Contender("rasa", client.parse, full.train_seconds, train_fold, server.rss_mb), close


def compare(settings: Settings, tsv_paths: list[Path], folds: int = 5,
            quiet: bool = True) -> dict[str, dict[str, Any]]:
    """Figures of both backends; Rasa's training time is that of ``rasa train`` (maybe cached)."""
    data = load_training_data(settings.data_dir)
    questions = {path.stem: read_tsv(path) for path in tsv_paths}
    from callbot.brain import Brain  # the bot's own answering rule (a level above the NLU)
    from callbot.conversation.policy import answer_rule

    answers = answer_rule(Brain.policy_params_of(settings))
    results = {"embedded": measure(embedded_contender(settings), data, questions, answers, folds)}
    rasa, close = rasa_contender(settings, quiet=quiet)
    try:
        results["rasa"] = measure(rasa, data, questions, answers, folds)
    finally:
        close()
    return results


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per figure, one column per backend."""
    names = list(results)
    rows: list[tuple[str, list[Any]]] = [
        ("train_seconds", [results[n].get("train_seconds") for n in names]),
        ("memory_mb", [results[n].get("memory_mb") for n in names]),
    ]
    first = results[names[0]]
    for label, figures in first.items():
        if isinstance(figures, dict):
            for key in figures:
                rows.append((f"{label}.{key}", [results[n].get(label, {}).get(key) for n in names]))
    width = max(len(r[0]) for r in rows) + 2
    lines = ["".ljust(width) + "".join(n.rjust(12) for n in names)]
    lines += [name.ljust(width) + "".join(f"{v:>12}" for v in values) for name, values in rows]
    return "\n".join(lines)
