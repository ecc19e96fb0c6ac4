"""Measuring an NLU: held-out questions and k-fold cross-validation of the training data.

The figure a town hall cares most about is the *confident-wrong rate*: a wrong topic
answered directly, i.e. a confidently wrong answer to a caller. Whether a parse is answered
directly is the conversation policy's rule (``answers``), so the figure is the bot's.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from callbot.nlu.intents import OUT_OF_SCOPE, is_topic
from callbot.nlu.result import ParseResult
from callbot.nlu.training_data import TrainingData


@dataclass
class EvalReport:
    examples: int
    in_scope: int
    out_of_scope: int
    accuracy: float  # in-scope questions whose intent is right
    macro_f1: float
    out_of_scope_recall: float  # out-of-scope questions not answered as a topic
    confident_wrong_rate: float  # all questions answered with a wrong topic, confidently
    answered_correct_rate: float  # in-scope topic questions answered directly and rightly
    parse_p50_ms: float
    parse_p95_ms: float
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["confusions"] = [list(c) for c in self.confusions]
        return data


def read_tsv(path: Path) -> list[tuple[str, str]]:
    """Rows of (intent, utterance); a header row starting with 'intent' is skipped."""
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 2 or row[0] == "intent" or row[0].startswith("#"):
                continue
            rows.append((row[0].strip(), row[1].strip()))
    return rows


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (benchmarks and evaluations share it)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


Answers = Callable[[ParseResult], bool]  # whether the bot answers this topic directly


def evaluate(parse: Callable[[str], ParseResult], rows: Iterable[tuple[str, str]],
             answers: Answers, redirects: frozenset[str] = frozenset()) -> EvalReport:
    """Parse every row and score it against its gold intent.

    A redirection (``redirects``: topics saying which other administration handles it) is
    the right answer to an out-of-scope question, and a confidently wrong one to a question
    the town hall handles."""
    gold, predicted, latencies, errors = [], [], [], []
    oos_total = oos_ok = confident_wrong = answered_right = topics = 0
    for intent, text in rows:
        started = time.perf_counter()
        result = parse(text)
        latencies.append((time.perf_counter() - started) * 1000)
        name, confidence = result.intent.name, result.intent.confidence
        answered_topic = answers(result)
        if intent == OUT_OF_SCOPE and name in redirects:
            name, answered_topic = OUT_OF_SCOPE, False  # said who handles it: right
        gold.append(intent)
        predicted.append(name)
        if intent == OUT_OF_SCOPE:
            oos_total += 1
            oos_ok += not answered_topic
        if answered_topic and name != intent:
            confident_wrong += 1
        topics += is_topic(intent)
        answered_right += answered_topic and name == intent
        if name != intent:
            errors.append({"gold": intent, "predicted": name, "confidence": round(confidence, 3),
                           "text": text})
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != OUT_OF_SCOPE]
    total = len(gold)
    return EvalReport(
        examples=total,
        in_scope=len(in_scope),
        out_of_scope=oos_total,
        accuracy=sum(g == p for g, p in in_scope) / len(in_scope) if in_scope else 0.0,
        macro_f1=float(f1_score(gold, predicted, average="macro", labels=sorted(set(gold)),
                                zero_division=0)) if gold else 0.0,
        out_of_scope_recall=oos_ok / oos_total if oos_total else 1.0,
        confident_wrong_rate=confident_wrong / total if total else 0.0,
        answered_correct_rate=answered_right / topics if topics else 0.0,
        parse_p50_ms=statistics.median(latencies) if latencies else 0.0,
        parse_p95_ms=percentile(latencies, 0.95),
        confusions=[(g, p, n) for (g, p), n in Counter(
            (g, p) for g, p in zip(gold, predicted, strict=True) if g != p).most_common(10)],
        errors=errors,
    )


@dataclass
class CrossValidation:
    folds: int
    accuracy: float  # best-ranked intent right
    macro_f1: float
    accuracy_after_fallback: float  # right and above the fallback threshold
    # on the held-out examples, answered by ``answers`` (as in ``EvalReport``):
    confident_wrong_rate: float = 0.0
    answered_correct_rate: float = 0.0
    out_of_scope_recall: float = 0.0


def cross_validate(data: TrainingData, train: Callable[[TrainingData], object],
                   folds: int = 5, seed: int = 7,
                   answers: Answers | None = None) -> CrossValidation:
    """Stratified k-fold on the examples; ``train`` returns something with ``parse``."""
    examples = data.examples
    labels = [e.intent for e in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    gold: list[str] = []
    predicted: list[str] = []
    kept: list[str] = []  # the intent after the fallback threshold
    held_out: list[tuple[str, str]] = []
    results: list[ParseResult] = []
    for train_idx, test_idx in splitter.split(examples, labels):
        fold_data = TrainingData(
            examples=[examples[i] for i in train_idx], synonyms=data.synonyms,
            lookups=data.lookups, regexes=data.regexes, fingerprint="cv",
        )
        nlu = train(fold_data)
        for i in test_idx:
            result = nlu.parse(examples[i].text)  # type: ignore[attr-defined]
            gold.append(labels[i])
            predicted.append(result.intent_ranking[0].name if result.intent_ranking else "")
            kept.append(result.intent.name)
            held_out.append((labels[i], examples[i].text))
            results.append(result)

    def share_right(guesses: list[str]) -> float:
        return sum(g == p for g, p in zip(gold, guesses, strict=True)) / len(gold)

    macro_f1 = float(f1_score(gold, predicted, average="macro", zero_division=0))
    cv = CrossValidation(folds, share_right(predicted), macro_f1, share_right(kept))
    if answers is None:
        return cv
    replay = iter(results)  # already parsed: score them as if asked again
    report = evaluate(lambda _text: next(replay), held_out, answers)
    return replace(cv, confident_wrong_rate=report.confident_wrong_rate,
                   answered_correct_rate=report.answered_correct_rate,
                   out_of_scope_recall=report.out_of_scope_recall)
