"""The intent model: one linear SVM picks the intent, calibrated fold SVMs say how sure.

sklearn's ``CalibratedClassifierCV`` averages SVMs that each saw 2/3 of the examples: its
probabilities are cautious where the fold models disagree (the confident-wrong rate stays
low on questions nobody here wrote), but its best intent is that of weaker models, about
1 point lower in k-fold accuracy than an SVM trained on every example. Calibrating that
full SVM alone (``ensemble=False``) keeps the accuracy but is overconfident on unseen
phrasings (docs/nlu.md figures). So both are kept: the full SVM decides, and the confidence is
what the calibrated fold models give to its choice, so a choice they doubt stays low.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

#: Folds of the probability calibration (sigmoid on held-out decision values).
CALIBRATION_FOLDS = 3


class DecidedCalibratedSvc(ClassifierMixin, BaseEstimator):
    """``decision_function``: the full SVM's scores; ``predict_proba``: the folds' calibration."""

    def __init__(self, calibrated_c: float = 0.5, decider_c: float = 1.0,
                 folds: int = CALIBRATION_FOLDS) -> None:
        self.calibrated_c = calibrated_c
        self.decider_c = decider_c
        self.folds = folds

    def fit(self, features: object, labels: list[str]) -> DecidedCalibratedSvc:
        self.calibrated_ = CalibratedClassifierCV(LinearSVC(C=self.calibrated_c),
                                                  cv=self.folds).fit(features, labels)
        self.decider_ = LinearSVC(C=self.decider_c).fit(features, labels)
        self.classes_ = self.calibrated_.classes_
        self._set_sigmoids()
        return self

    def _set_sigmoids(self) -> None:
        """Each fold SVM with its per-class sigmoid (a, b), to compute them in one go."""
        self.sigmoids_ = [(c.estimator, np.array([s.a_ for s in c.calibrators]),
                           np.array([s.b_ for s in c.calibrators]))
                          for c in self.calibrated_.calibrated_classifiers_]

    def decision_function(self, features: object) -> np.ndarray:
        return self.decider_.decision_function(features)

    def predict(self, features: object) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(features), axis=1)]

    def predict_proba(self, features: object) -> np.ndarray:
        """sklearn's sigmoid calibration averaged over the folds, vectorised over the classes
        (sklearn loops over them in Python: ~8 ms a parse instead of ~1)."""
        total = 0.0
        for svm, slopes, offsets in self.sigmoids_:
            probs = expit(-(slopes * svm.decision_function(features) + offsets))
            total = total + probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        return total / len(self.sigmoids_)


def ranked(probs: np.ndarray, decisions: np.ndarray, size: int) -> list[int]:
    """Class indices: the decider's choice first, then the others by probability."""
    best = int(np.argmax(decisions))
    others = [int(i) for i in np.argsort(probs)[::-1] if i != best]
    return [best, *others][:size]
