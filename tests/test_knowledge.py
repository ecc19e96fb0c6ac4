"""Topics as data: topic files, entries, the retriever and its calibrated confidence.

Real data (a copy of nlu_data/ in a temporary folder), the real classifier and retriever.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from callbot.brain import Brain
from callbot.config import Settings
from callbot.conversation.policy import answers_directly
from callbot.kb.live import LiveKnowledgeBase
from callbot.kb.loader import load_knowledge_base
from callbot.nlu.index_cache import prune
from callbot.nlu.openers import leading_yes_no, strip_openers
from callbot.nlu.result import ParseResult
from callbot.problems import DataError
from tests.conftest import DATA_DIR, at

POOL = """
services:
  piscine_test:
    name: la piscine des Tilleuls
    address: 3 allée des Tilleuls, 44350 Villebrune
    phone: 02 40 12 39 99
    hours: {lundi: fermé, mardi: 12h-14h, mercredi: 10h-18h, jeudi: 12h-14h,
            vendredi: 12h-20h, samedi: 10h-18h, dimanche: 9h-13h}
topics:
  tilleuls_pool:
    label: la piscine des Tilleuls
    service: piscine_test
    day_hours: true
    answer: "La piscine des Tilleuls est allée des Tilleuls ; {open_now:piscine_test}."
    details: "Le bonnet de bain est obligatoire. Les shorts sont interdits.
      Les enfants de moins de 8 ans viennent avec un adulte."
    questions:
      - elle ouvre quand la piscine des tilleuls
      - je voudrais aller nager à la piscine des tilleuls
      - les horaires du bassin des tilleuls
    entries:
      - id: price
        questions: [combien coûte une entrée au bassin des tilleuls,
                    c'est quoi le tarif de la piscine des tilleuls pour un enfant]
        answer: "L'entrée coûte 3 € pour un adulte et 1,50 € pour un enfant."
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "nlu_data"
    shutil.copytree(DATA_DIR, copy, ignore=shutil.ignore_patterns("editor.yml"))
    return copy


def _settings(data_dir: Path, nlu_cache: Path) -> Settings:
    return Settings(data_dir=data_dir, nlu={"cache_dir": nlu_cache})


def test_topic_file_adds_a_topic_with_its_service_and_entries(data_dir: Path) -> None:
    (data_dir / "topics" / "pool.yml").write_text(POOL, encoding="utf-8")
    kb = load_knowledge_base(data_dir / "kb.yml")
    topic = kb.topics["tilleuls_pool"]
    assert kb.services["piscine_test"].phone == "02 40 12 39 99"
    assert [e.id for e in topic.entries] == ["price"] and topic.day_hours
    assert topic.source.endswith("pool.yml") and (data_dir / "topics" / "pool.yml") in kb.files


@pytest.mark.parametrize(("old", "new", "message"), [
    ("        questions: [combien coûte une entrée au bassin des tilleuls,\n"
     "                    c'est quoi le tarif de la piscine des tilleuls pour un enfant]\n",
     "        questions: []\n",
     "topic 'tilleuls_pool', entry 'price': give at least 2 questions (it has 0)"),
    ("      - les horaires du bassin des tilleuls\n", "",
     "topic 'tilleuls_pool': give at least 3 ways a caller asks it under 'questions:' (it has 2)"),
    ("  piscine_test:\n", "  mairie:\n", "service 'mairie' is already defined in another file"),
    ("  tilleuls_pool:\n", "  pacs:\n", "topic 'pacs' is already defined in"),
    ("      - les horaires du bassin des tilleuls\n",
     "      - les horaires du bassin des tilleuls\n      - elle ouvre quand la piscine des tilleuls\n",
     "the question \"elle ouvre quand la piscine des tilleuls\" is also asked under "
     "'tilleuls_pool'"),
    ("    label: la piscine des Tilleuls\n", "    label: la piscine des Tilleuls\n    kind: other\n",
     "topic 'tilleuls_pool': kind must be 'answer' or 'redirect'"),
])
def test_a_broken_topic_file_is_refused_with_file_and_line(data_dir: Path, old: str, new: str,
                                                          message: str) -> None:
    assert old in POOL
    path = data_dir / "topics" / "pool.yml"
    path.write_text(POOL.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_knowledge_base(data_dir / "kb.yml")
    found = [p for p in error.value.problems if message in p.message]
    assert found, [str(p) for p in error.value.problems]
    assert found[0].file == str(path) and found[0].line > 0


def test_hours_written_in_prose_are_a_warning(data_dir: Path) -> None:
    text = POOL.replace("{open_now:piscine_test}.", "ouvert de 10h à 18h le mercredi.")
    (data_dir / "topics" / "pool.yml").write_text(text, encoding="utf-8")
    kb = load_knowledge_base(data_dir / "kb.yml")
    assert any("tilleuls_pool" in w.message and "states hours" in w.message
               for w in kb.warnings)


def test_a_topic_file_that_is_not_a_mapping_keeps_the_running_knowledge_base(
        data_dir: Path) -> None:
    live = LiveKnowledgeBase(data_dir / "kb.yml")
    revision = live.current.revision
    (data_dir / "topics" / "broken.yml").write_text("- just\n- a list\n", encoding="utf-8")
    kb = live.refresh()
    assert kb.revision == revision
    assert any("expected a mapping" in p.message for p in live.last_problems)


def test_a_new_topic_is_answered_after_the_index_rebuild_without_training(
        data_dir: Path, nlu_cache: Path) -> None:
    brain = Brain.load(_settings(data_dir, nlu_cache))
    before = brain.nlu.parse("combien coûte une entrée au bassin des tilleuls")
    assert before.intent.name != "tilleuls_pool"
    (data_dir / "topics" / "pool.yml").write_text(POOL, encoding="utf-8")
    brain.kb.refresh()
    brain.nlu.wait()
    call = brain.conversation(lambda: at("2026-12-02T11:00"))  # a Wednesday, open
    call.start()
    turn = call.hear("allô bonjour c'est combien l'entrée au bassin des tilleuls pour un adulte")
    assert turn.to_json()["kb_entry"] == "tilleuls_pool/price", turn.to_json()
    assert "3 €" in turn.text
    hours = call.hear("et la piscine des tilleuls elle ouvre quand samedi")
    assert hours.to_json()["kb_entry"] == "tilleuls_pool", hours.to_json()
    assert "de 10h à 18h" in hours.text


def test_a_question_whose_topic_is_missing_is_not_answered(data_dir: Path,
                                                           nlu_cache: Path) -> None:
    """Know what you don't know: without the pool topic, its questions go to a person."""
    brain = Brain.load(_settings(data_dir, nlu_cache))
    params = brain.policy_params()
    for question in ("c'est combien l'entrée au bassin des tilleuls pour un adulte",
                     "je voudrais aller nager à la piscine des tilleuls"):
        parse = brain.nlu.parse(question)
        assert not answers_directly(parse, parse.intent.confidence, params), parse.to_dict()


def test_call_openers_are_taken_off_the_front_only() -> None:
    assert strip_openers("allô oui bonjour madame je voudrais un acte") == "je voudrais un acte"
    assert strip_openers("bonsoir euh la piscine ouvre quand") == "la piscine ouvre quand"
    assert strip_openers("bonjour") == "bonjour"
    assert strip_openers("oui je veux bien merci") == "oui je veux bien merci"
    assert leading_yes_no("oui comment je prends rendez-vous") == "comment je prends rendez-vous"
    assert leading_yes_no("oui merci") is None


def test_the_opener_does_not_cost_the_answer(brain: Brain) -> None:
    plain = brain.nlu.parse("je voudrais une copie de mon acte de naissance")
    opened = brain.nlu.parse("allô oui bonjour je voudrais une copie de mon acte de naissance")
    assert opened.intent.name == plain.intent.name == "civil_status_certificate"
    assert opened.intent.confidence >= plain.intent.confidence - 0.05


def test_the_matched_entry_travels_in_rasa_shape(brain: Brain) -> None:
    parse = brain.nlu.parse("je voudrais une copie de mon acte de naissance")
    body = parse.to_dict()
    assert body["response_selector"]["knowledge"]["response"]["intent_response_key"].startswith(
        "civil_status_certificate")
    again = ParseResult.from_dict(body).knowledge
    assert [(m.key, round(m.confidence, 4)) for m in again] == [
        (m.key, round(m.confidence, 4)) for m in parse.knowledge]


def test_a_redirection_is_found_and_true_out_of_scope_still_wins(brain: Brain) -> None:
    """The ways of asking for another administration live in its redirection topic, not in
    the classifier's out-of-scope examples: the permit question finds who handles it, and a
    question the bot knows nothing of keeps the classifier's "out of scope"."""
    result = brain.nlu.parse("je voudrais renouveler mon permis de conduire")
    assert result.knowledge[0].topic == "driving_licence"
    assert result.intent.name in ("driving_licence", "nlu_fallback")  # answered or clarified
    weather = brain.nlu.parse("il va faire beau demain à la plage")
    assert weather.intent.name == "out_of_scope", weather.intent


def test_the_built_index_is_cached_on_disk_by_revision(data_dir: Path, tmp_path: Path,
                                                       nlu_cache: Path) -> None:
    """A second start reads the index its first built (same answers, same confidences); a
    changed topic file is a new revision and a new index; a damaged file is rebuilt."""
    cache = tmp_path / "cache"
    # the classifier, trained once for the whole suite; not the indexes other tests built
    shutil.copytree(nlu_cache, cache, ignore=shutil.ignore_patterns("topic-index-*"))
    question = "je voudrais une copie de mon acte de naissance"
    first = Brain.load(_settings(data_dir, cache))
    indexes = sorted(cache.glob("topic-index-*.pkl"))
    assert len(indexes) == 1
    second = Brain.load(_settings(data_dir, cache))
    assert second.nlu.retriever.get().build_seconds == first.nlu.retriever.get().build_seconds
    assert second.nlu.parse(question).to_dict() == first.nlu.parse(question).to_dict()
    (data_dir / "topics" / "pool.yml").write_text(POOL, encoding="utf-8")
    third = Brain.load(_settings(data_dir, cache))
    assert len(list(cache.glob("topic-index-*.pkl"))) == 2
    assert third.nlu.parse("c'est quoi le tarif de la piscine des tilleuls pour un enfant"
                           ).intent.name == "tilleuls_pool"
    indexes[0].write_bytes(b"not a pickle")
    (data_dir / "topics" / "pool.yml").unlink()
    again = Brain.load(_settings(data_dir, cache))
    assert again.nlu.parse(question).to_dict() == first.nlu.parse(question).to_dict()


def test_only_the_newest_indexes_stay_on_disk(tmp_path: Path) -> None:
    for age in range(9):
        path = tmp_path / f"topic-index-{age}.pkl"
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
    (tmp_path / "tfidf-svc-model.pkl").write_bytes(b"the classifier")
    prune(tmp_path, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "tfidf-svc-model.pkl", "topic-index-0.pkl", "topic-index-1.pkl", "topic-index-2.pkl"]


@pytest.mark.parametrize(("question", "topic", "entry"), [
    ("combien coûte la location de la salle des fêtes", "room_rental", "price"),
    ("il faut combien de temps pour recevoir le permis de construire", "building_permit",
     "delay"),
    ("quels papiers faut-il pour inscrire mon fils à l'école", "school_enrolment", "documents"),
    ("on est séparés avec le papa qui doit signer l'inscription à l'école", "school_enrolment",
     "separated"),
    ("mon bac n'a pas été ramassé ce matin", "waste_collection", "missed"),
])
def test_the_point_asked_is_answered_by_its_entry(brain: Brain, question: str, topic: str,
                                                  entry: str) -> None:
    """Cost, delay and documents by one facet model pooled over all topics; special cases by
    the question's words that are not the topic's own."""
    parse = brain.nlu.parse(question)
    assert (parse.intent.name, parse.entry) == (topic, entry)


def test_a_general_question_keeps_the_main_answer(brain: Brain) -> None:
    parse = brain.nlu.parse("comment on fait pour avoir un rendez-vous pour un passeport")
    assert (parse.intent.name, parse.entry) == ("id_card_passport", None)


def test_hesitations_alone_match_no_topic(brain: Brain) -> None:
    assert brain.nlu.retriever.get().match("bof euh").matches == ()
