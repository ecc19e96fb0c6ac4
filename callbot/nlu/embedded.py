"""The embedded classifier: TF-IDF word and character n-grams with linear SVMs (``svm.py``).

Trains in seconds from the Rasa YAML, is cached on disk by a hash of the data, and
answers in Rasa's parse shape. Below ``fallback_threshold`` the intent is ``nlu_fallback``.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from loguru import logger
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from callbot import faults
from callbot.nlu.entities import EntityExtractor
from callbot.nlu.intents import NLU_FALLBACK
from callbot.nlu.result import IntentScore, ParseResult
from callbot.nlu.svm import DecidedCalibratedSvc, ranked
from callbot.nlu.text import clean_input, features_text
from callbot.nlu.training_data import TrainingData

#: Bump when features or model change, so cached models are not reused.
MODEL_VERSION = "tfidf-svc-4"
RANKING_SIZE = 10


@dataclass(frozen=True)
class EmbeddedNluParams:
    fallback_threshold: float = 0.3
    regularisation_c: float = 0.5  # of the calibrated fold SVMs (the confidence)
    decider_c: float = 1.0  # of the SVM trained on every example (the intent)


def build_classifier(params: EmbeddedNluParams) -> Pipeline:
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                      token_pattern=r"(?u)\b\w[\w']*", dtype=np.float32)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                      dtype=np.float32)),
        ]
    )
    # A linear SVM trains several times faster than a logistic regression here and, once
    # calibrated, gave fewer confident-wrong answers on held-out questions (docs/nlu.md figures).
    model = DecidedCalibratedSvc(params.regularisation_c, params.decider_c)
    return Pipeline([("features", features), ("model", model)])


class EmbeddedNLU:
    """A trained classifier plus entity extractor; thread-safe for parsing."""

    def __init__(self, classifier: Pipeline, extractor: EntityExtractor,
                 params: EmbeddedNluParams, fingerprint: str, train_seconds: float) -> None:
        self._classifier = classifier
        self._extractor = extractor
        self._labels: list[str] = [str(c) for c in classifier.classes_]
        self.params = params
        self.fingerprint = fingerprint
        self.train_seconds = train_seconds

    @classmethod
    def train(cls, data: TrainingData, params: EmbeddedNluParams | None = None) -> EmbeddedNLU:
        params = params or EmbeddedNluParams()
        started = time.perf_counter()
        texts = [features_text(e.text) for e in data.examples]
        labels = [e.intent for e in data.examples]
        classifier = build_classifier(params).fit(texts, labels)
        elapsed = time.perf_counter() - started
        logger.info(f"NLU trained on {len(texts)} examples, {len(set(labels))} intents "
                    f"in {elapsed:.2f} s")
        return cls(classifier, EntityExtractor(data), params, data.fingerprint, elapsed)

    @classmethod
    def load_or_train(cls, data: TrainingData, cache_dir: Path,
                      params: EmbeddedNluParams | None = None) -> EmbeddedNLU:
        """Reuse the model cached for this exact data, else train and cache it."""
        params = params or EmbeddedNluParams()
        path = cache_dir / (f"{MODEL_VERSION}-{data.fingerprint[:24]}-c{params.regularisation_c}"
                            f"-d{params.decider_c}.pkl")
        if path.exists():
            try:
                with path.open("rb") as handle:
                    classifier = pickle.load(handle)  # noqa: S301 - our own cache file
                logger.debug(f"NLU model loaded from cache {path}")
                return cls(classifier, EntityExtractor(data), params, data.fingerprint, 0.0)
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
                logger.warning(f"NLU cache {path} unreadable ({exc}); retraining")
        nlu = cls.train(data, params)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as handle:
                pickle.dump(nlu._classifier, handle)
            tmp.replace(path)
        except OSError as exc:
            logger.warning(f"cannot cache NLU model in {cache_dir}: {exc}")
        return nlu

    @property
    def intents(self) -> list[str]:
        return list(self._labels)

    def scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and the deciding SVM's scores, one row per text."""
        features = self._classifier.named_steps["features"].transform(
            [features_text(clean_input(t)) for t in texts])
        model = self._classifier.named_steps["model"]
        return model.predict_proba(features), model.decision_function(features)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in ``intents`` order (the topic
        retriever's cues)."""
        return self.scores(texts)[0]

    def parse(self, text: str) -> ParseResult:
        faults.check("nlu")
        text = clean_input(text)
        if not features_text(text):
            return ParseResult(text, IntentScore(NLU_FALLBACK, 1.0))
        probs, decisions = self.scores([text])
        order = ranked(probs[0], decisions[0], RANKING_SIZE)
        probs = probs[0]
        ranking = tuple(IntentScore(self._labels[i], float(probs[i])) for i in order)
        best = ranking[0]
        if best.confidence < self.params.fallback_threshold:
            best = IntentScore(NLU_FALLBACK, self.params.fallback_threshold)
        return ParseResult(text, best, self._extractor.extract(text), ranking)
