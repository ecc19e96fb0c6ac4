"""The intent model: the full SVM decides, the calibrated fold SVMs give the confidence."""

from __future__ import annotations

import numpy as np

from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams, build_classifier
from callbot.nlu.knowledge import KnowledgeNLU
from callbot.nlu.svm import DecidedCalibratedSvc, ranked
from callbot.nlu.text import features_text
from callbot.nlu.training_data import TrainingData


def _fitted(data: TrainingData, per_intent: int = 12) -> tuple[DecidedCalibratedSvc, object]:
    examples = [e for group in data.by_intent().values() for e in group[:per_intent]]
    pipeline = build_classifier(EmbeddedNluParams())
    features = pipeline.named_steps["features"].fit_transform(
        [features_text(e.text) for e in examples])
    model = pipeline.named_steps["model"].fit(features, [e.intent for e in examples])
    return model, features


def test_vectorised_calibration_matches_sklearn(training_data: TrainingData) -> None:
    model, features = _fitted(training_data)
    ours = model.predict_proba(features)
    assert np.allclose(ours, model.calibrated_.predict_proba(features), atol=1e-6)
    assert np.allclose(ours.sum(axis=1), 1.0)


def test_full_svm_decides(training_data: TrainingData) -> None:
    model, features = _fitted(training_data)
    assert list(model.predict(features)) == list(model.decider_.predict(features))
    assert list(model.classes_) == list(model.decider_.classes_)


def test_ranking_puts_the_decision_first_then_probabilities() -> None:
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    decisions = np.array([0.1, 0.9, -0.2, -0.5])
    assert ranked(probs, decisions, 3) == [1, 0, 2]
    assert ranked(probs, np.array([0.9, 0.1, 0.0, 0.0]), 10) == [0, 1, 2, 3]


def test_parse_confidence_is_the_calibrated_probability_of_the_choice(nlu: KnowledgeNLU) -> None:
    classifier: EmbeddedNLU = nlu.classifier  # the retriever may re-rank; this is the SVM's own
    for text in ("euh la salle des mariages elle fait combien de places",
                 "je voudrais parler à un agent de la police", "oui carrément"):
        result = classifier.parse(text)
        probs, decisions = classifier.scores([text])
        best = classifier.intents[int(np.argmax(decisions[0]))]
        assert result.intent_ranking[0].name == best
        assert result.intent_ranking[0].confidence == float(
            probs[0][classifier.intents.index(best)])
        rest = [s.confidence for s in result.intent_ranking[1:]]
        assert rest == sorted(rest, reverse=True)
