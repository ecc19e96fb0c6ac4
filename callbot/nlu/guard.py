"""The FAQ editor's guard, fast: what an edit of example questions does to cross-validation.

A full 5-fold cross-validation of the embedded NLU takes tens of seconds (five calibrated
trainings on every example), too slow for "live on the next call". An edit only moves the
boundaries around the intents it touches, so the guard measures only there:

* the *affected* intents: those whose examples changed, plus, for each changed sentence,
  the intents of its nearest training sentences (TF-IDF cosine): where it could steal from;
* a paired k-fold on their examples only, before and after the edit, with the same
  features as the NLU and a plain linear SVM (no calibration: accuracy is the argmax);
  folds are fixed by a hash of each sentence, so before and after differ by the edit only;
* the accuracy lost there, weighted by those examples' share of all examples, is the
  estimate of the points of cross-validation accuracy the whole NLU would lose.

Under a second for a typical edit on the full data, instead of a minute or two.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from callbot.nlu.embedded import EmbeddedNluParams, build_classifier
from callbot.nlu.text import features_text
from callbot.nlu.training_data import TrainingData

FOLDS = 5
NEIGHBOURS_PER_SENTENCE = 5
MAX_INTENTS = 12

Pairs = set[tuple[str, str]]  # (intent, text)


@dataclass(frozen=True)
class GuardEstimate:
    intents: tuple[str, ...]  # where it was measured
    before: float  # accuracy on their examples, before the edit
    after: float
    share: float  # their examples' share of all examples, after the edit

    @property
    def points_lost(self) -> float:
        """Estimated change of the whole cross-validation accuracy, in points (>0: worse)."""
        return (self.before - self.after) * self.share * 100


def _pairs(data: TrainingData) -> Pairs:
    return {(e.intent, e.text) for e in data.examples}


def affected_intents(current: TrainingData, proposed: TrainingData,
                     limit: int = MAX_INTENTS) -> tuple[str, ...]:
    """The changed intents first, then the nearest neighbours of the changed sentences."""
    changed = _pairs(current) ^ _pairs(proposed)
    own = sorted({intent for intent, _ in changed})
    if not changed:
        return tuple(own)
    corpus = sorted(_pairs(current))
    vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    matrix = vectoriser.fit_transform([features_text(text) for _, text in corpus])
    queries = vectoriser.transform([features_text(text) for _, text in sorted(changed)])
    votes: Counter[str] = Counter()
    for row in (queries @ matrix.T).toarray():
        for index in np.argsort(row)[::-1][:NEIGHBOURS_PER_SENTENCE]:
            votes[corpus[index][0]] += 1
    neighbours = [intent for intent, _ in votes.most_common() if intent not in own]
    return tuple(own + neighbours[:max(1, limit - len(own))])


def _fold(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big") % FOLDS


def paired_accuracy(data: TrainingData, intents: tuple[str, ...],
                    params: EmbeddedNluParams) -> tuple[float, int]:
    """k-fold accuracy on the examples of ``intents`` only, and how many there are."""
    examples = [e for e in data.examples if e.intent in intents]
    if len({e.intent for e in examples}) < 2:
        return 1.0, len(examples)
    features = build_classifier(params).named_steps["features"]
    matrix = features.fit_transform([features_text(e.text) for e in examples])
    labels = np.array([e.intent for e in examples])
    folds = np.array([_fold(e.text) for e in examples])
    right = 0
    for fold in range(FOLDS):
        test, train = folds == fold, folds != fold
        if not test.any():
            continue
        if len(set(labels[train])) < 2:
            continue  # nothing to learn from: these examples count as wrong
        model = LinearSVC(C=params.regularisation_c).fit(matrix[train], labels[train])
        right += int((model.predict(matrix[test]) == labels[test]).sum())
    return right / len(examples), len(examples)


def estimate(current: TrainingData, proposed: TrainingData,
             params: EmbeddedNluParams | None = None) -> GuardEstimate:
    params = params or EmbeddedNluParams()
    intents = affected_intents(current, proposed)
    before, _ = paired_accuracy(current, intents, params)
    after, measured = paired_accuracy(proposed, intents, params)
    share = measured / len(proposed.examples) if proposed.examples else 0.0
    return GuardEstimate(intents, before, after, share)
