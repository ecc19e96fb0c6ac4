"""The embedded NLU, trained on the real nlu_data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams
from callbot.nlu.intents import NLU_FALLBACK
from callbot.nlu.training_data import TrainingData


def test_parse_has_rasa_shape(nlu: EmbeddedNLU) -> None:
    result = nlu.parse("euh la déchèterie elle est ouverte samedi").to_dict()
    assert set(result) == {"text", "intent", "entities", "intent_ranking", "response_selector"}
    assert result["response_selector"]["knowledge"]["response"]["intent_response_key"]
    assert result["intent"]["name"] in {"recycling_centre", "opening_hours"}
    ranking = result["intent_ranking"]
    assert ranking[0]["confidence"] >= ranking[1]["confidence"]
    entities = {(e["entity"], e["value"]) for e in result["entities"]}
    assert {("service", "dechetterie"), ("day", "samedi")} <= entities
    for entity in result["entities"]:
        assert result["text"][entity["start"] : entity["end"]] == entity["text"]


def test_topic_and_dialogue_intents(nlu: EmbeddedNLU) -> None:
    assert nlu.parse("je voudrais refaire mon passeport").intent.name == "id_card_passport"
    assert nlu.parse("passez moi un conseiller s'il vous plait").intent.name == "request_human"
    assert nlu.parse("c'est quel jour le ramassage des poubelles").intent.name == "waste_collection"


def test_synonyms_give_canonical_values(nlu: EmbeddedNLU) -> None:
    result = nlu.parse("il me faut une copie de l'acte de décès de mon père")
    assert result.entity_value("certificate_type") == "deces"


def test_garbage_empty_and_huge_inputs_do_not_crash(nlu: EmbeddedNLU) -> None:
    assert nlu.parse("").intent.name == NLU_FALLBACK
    assert nlu.parse("   \x00\x07 ").intent.name == NLU_FALLBACK
    huge = nlu.parse("passeport " * 1000)
    assert len(huge.text) <= 1000 and huge.intent.name == "id_card_passport"
    garbage = nlu.parse("xq zzkj wwpt vrrb")
    assert garbage.intent.name in {NLU_FALLBACK, "out_of_scope"}


def _small(data: TrainingData) -> TrainingData:
    """A few examples per intent: enough to test caching without a full training."""
    examples = [e for group in data.by_intent().values() for e in group[:6]]
    return replace(data, examples=examples, fingerprint="small-" + data.fingerprint)


def test_model_is_cached_by_data_hash(training_data: TrainingData, tmp_path: Path) -> None:
    params = EmbeddedNluParams()
    training_data = _small(training_data)
    first = EmbeddedNLU.load_or_train(training_data, tmp_path, params)
    assert first.train_seconds > 0 and len(list(tmp_path.glob("*.pkl"))) == 1
    second = EmbeddedNLU.load_or_train(training_data, tmp_path, params)
    assert second.train_seconds == 0.0  # loaded, not retrained
    text = "je voudrais inscrire mon fils à la cantine"
    assert second.parse(text) == first.parse(text)


def test_corrupt_cache_is_retrained(training_data: TrainingData, tmp_path: Path) -> None:
    training_data = _small(training_data)
    EmbeddedNLU.load_or_train(training_data, tmp_path)
    [cached] = tmp_path.glob("*.pkl")
    cached.write_bytes(b"not a pickle")
    again = EmbeddedNLU.load_or_train(training_data, tmp_path)
    assert again.train_seconds > 0
