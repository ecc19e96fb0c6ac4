"""Knowledge base: validation with file and line, opening hours, slots, reload."""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path

import pytest

from callbot.kb.answers import answer_topic
from callbot.kb.hours import hours_on, is_open, next_opening, parse_hours
from callbot.kb.live import LiveKnowledgeBase
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase, TimeRange
from callbot.nlu.intents import TOPIC_INTENTS
from callbot.problems import DataError
from tests.conftest import DATA_DIR, at


def test_seed_knowledge_base_is_valid(kb: KnowledgeBase) -> None:
    assert set(TOPIC_INTENTS) <= set(kb.topics) and "mairie" in kb.services
    assert kb.revision


def test_parse_hours() -> None:
    assert parse_hours("8h30-12h, 13h30-17h30") == (
        TimeRange(time(8, 30), time(12)), TimeRange(time(13, 30), time(17, 30)))
    assert parse_hours("fermé") == ()
    with pytest.raises(ValueError, match="cannot read opening hours '8h30 à 12h'"):
        parse_hours("8h30 à 12h")
    with pytest.raises(ValueError, match="closes before it opens"):
        parse_hours("14h-9h")


def test_public_holiday_closes_every_service(kb: KnowledgeBase) -> None:
    christmas = hours_on(kb.services["mairie"], date(2026, 12, 25))
    assert christmas.ranges == () and "Noël" in (christmas.closed_reason or "")
    assert not is_open(kb.services["mairie"], at("2026-12-25T10:00"))


def test_exceptional_closure_and_next_opening(kb: KnowledgeBase) -> None:
    mairie = kb.services["mairie"]
    closure = next(c for c in mairie.closures if c.first == c.last)
    day = hours_on(mairie, closure.first)
    assert day.ranges == () and day.closed_reason == closure.reason
    reopening = next_opening(mairie, at(f"{closure.first.isoformat()}T10:00"))
    assert reopening is not None and reopening.date() > closure.first


def test_open_now_on_a_weekday_morning(kb: KnowledgeBase) -> None:
    assert is_open(kb.services["mairie"], at("2026-12-01T10:30"))  # a Tuesday
    assert not is_open(kb.services["mairie"], at("2026-12-01T22:00"))


def test_opening_hours_answer_uses_service_and_day(kb: KnowledgeBase) -> None:
    answer = answer_topic(kb, "opening_hours", at("2026-12-01T10:30"), "dechetterie", "samedi")
    assert answer.text.startswith("Samedi 5 décembre, c'est ouvert à la déchetterie de ")
    tomorrow = answer_topic(kb, "opening_hours", at("2026-12-24T10:30"), None, "demain")
    assert "jour férié, Noël" in tomorrow.text


def test_waste_answer_fills_next_collection(kb: KnowledgeBase) -> None:
    text = answer_topic(kb, "waste_collection", at("2026-12-01T10:30")).text
    assert "{" not in text and "la prochaine collecte des ordures ménagères a lieu" in text


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "kb.yml"
    source = (DATA_DIR / "kb.yml").read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def test_unknown_service_is_reported_at_its_line(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "service: etat_civil", "service: etat_cvil")
    with pytest.raises(DataError) as error:
        load_knowledge_base(path)
    [problem] = error.value.problems
    assert problem.line == _line_of(path, "etat_cvil")
    assert "unknown service 'etat_cvil'" in problem.message


def test_unparsable_hours_and_unknown_slot(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "samedi: 9h-12h", "samedi: 9h à midi")
    text = path.read_text(encoding="utf-8").replace("{address:mairie}", "{adress:mairie}", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_knowledge_base(path)
    messages = [str(p) for p in error.value.problems]
    assert any("cannot read opening hours '9h à midi'" in m for m in messages)
    assert any("unknown slot {adress:mairie}" in m for m in messages)
    assert all(p.file == str(path) and p.line > 0 for p in error.value.problems)


def test_unspeakable_text_and_missing_topic(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "  pacs:\n", "  pacs_typo:\n")
    with pytest.raises(DataError) as error:
        load_knowledge_base(path)
    messages = " | ".join(p.message for p in error.value.problems)
    assert "topic intent 'pacs' has no answer" in messages
    url = _broken_copy(tmp_path, "answer: ", "answer: voir https://villebrune.fr ")
    with pytest.raises(DataError, match="web or e-mail address"):
        load_knowledge_base(url)


def test_live_reload_keeps_last_valid(tmp_path: Path) -> None:
    path = tmp_path / "kb.yml"
    shutil.copy(DATA_DIR / "kb.yml", path)
    live = LiveKnowledgeBase(path)
    before = live.current
    path.write_text("topics: [\n", encoding="utf-8")
    problems = live.reload()
    assert problems and live.current is before
    shutil.copy(DATA_DIR / "kb.yml", path)
    renamed = path.read_text(encoding="utf-8").replace("name: Villebrune", "name: Villebrune-sur-Loire", 1)
    path.write_text(renamed, encoding="utf-8")
    assert live.reload() == [] and live.current.revision != before.revision
    assert live.current.town == "Villebrune-sur-Loire"


def test_invalid_kb_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "kb.yml"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(DataError, match="not UTF-8"):
        LiveKnowledgeBase(path)


def test_appointments_messages_and_links_are_read_and_checked(kb: KnowledgeBase,
                                                               tmp_path: Path) -> None:
    assert kb.services["etat_civil"].appointments.slot_minutes == 20  # type: ignore[union-attr]
    assert kb.services["etat_civil"].messages_to == "etat-civil@villebrune.fr"
    assert kb.topics["id_card_passport"].link.startswith("https://")
    assert kb.services["piscine"].appointments is None
    path = _broken_copy(tmp_path, "slot_minutes: 20", "slot_minutes: 2000")
    text = path.read_text(encoding="utf-8").replace("messages_to: ccas@", "messages_to: ccas-", 1)
    path.write_text(text.replace("link: https://ants", "link: http://ants", 1), encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_knowledge_base(path)
    messages = " | ".join(p.message for p in error.value.problems)
    assert "slot_minutes must be a whole number from 5 to 240" in messages
    assert "is not an e-mail address" in messages
    assert "link must be an https:// address" in messages
