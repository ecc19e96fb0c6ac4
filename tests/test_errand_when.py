"""What callers say about when, which slot they pick, yes or no: sentences in, values out."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import yaml

from callbot.errands.ports import Slot
from callbot.errands.when import (
    HORIZON_DAYS,
    When,
    normalise,
    parse_choice,
    parse_when,
    parse_yes_no,
    refine_when,
)
from tests.conftest import DATA_DIR

TODAY = date(2026, 12, 2)  # a Wednesday
MONDAY = date(2026, 12, 7)
LAST = TODAY + timedelta(days=HORIZON_DAYS - 1)


def day(n: int, month: int = 12, year: int = 2026) -> date:
    return date(year, month, n)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demain", When(day(3), day(3))),
        ("demain matin", When(day(3), day(3), "morning")),
        ("après-demain", When(day(4), day(4))),
        ("aujourd'hui", When(TODAY, TODAY)),
        ("ce matin", When(TODAY, TODAY, "morning")),
        ("mercredi", When(day(9), day(9))),  # today excluded
        ("lundi", When(MONDAY, MONDAY)),
        ("mardi prochain", When(day(8), day(8))),
        ("jeudi en huit", When(day(10), day(10))),
        ("la semaine prochaine", When(MONDAY, day(12))),
        ("cette semaine", When(TODAY, day(5))),
        ("dans deux semaines", When(day(14), day(19))),
        ("dans 15 jours", When(day(14), day(19))),
        ("dans trois jours", When(day(5), day(5))),
        ("le 12", When(day(12), day(12))),
        ("le 1er", When(day(1, 1, 2027), day(1, 1, 2027))),  # past this month: the next
        ("mardi 15", When(day(15), day(15))),
        ("le 12 décembre", When(day(12), day(12))),
        ("douze décembre", When(day(12), day(12))),
        ("le premier décembre", When(day(1, 12, 2027), day(1, 12, 2027))),
        ("en janvier", When(day(1, 1, 2027), day(31, 1, 2027))),
        ("plutôt l'après-midi", When(TODAY, LAST, "afternoon")),
        ("le matin", When(TODAY, LAST, "morning")),
        ("en fin de matinée", When(TODAY, LAST, "morning", not_before=time(11))),
        ("en début d'après-midi", When(TODAY, LAST, "afternoon", not_after=time(15))),
        ("pas avant 10 h", When(TODAY, LAST, not_before=time(10))),
        ("après 16 heures", When(TODAY, LAST, not_before=time(16))),
        ("avant midi", When(TODAY, LAST, not_after=time(12))),
        ("entre 10 h et 11 h 30", When(TODAY, LAST, not_before=time(10), not_after=time(11, 30))),
        ("entre midi et deux", When(TODAY, LAST, not_before=time(12), not_after=time(14))),
        ("à 14 h 30", When(TODAY, LAST, at=time(14, 30))),
        ("quatorze heures trente", When(TODAY, LAST, at=time(14, 30))),
        ("vers dix heures", When(TODAY, LAST, at=time(10))),
        ("onze heures moins le quart", When(TODAY, LAST, at=time(10, 45))),
        ("à 3 heures", When(TODAY, LAST, at=time(15))),  # nobody books at night
        ("le plus tôt possible", When(TODAY, LAST)),
        ("n'importe quand", When(TODAY, LAST)),
        ("jeudi à dix heures et demie", When(day(3), day(3), at=time(10, 30))),
        ("mardi de la semaine prochaine le matin", When(day(8), day(8), "morning")),
        ("plutôt la semaine prochaine le matin", When(MONDAY, day(12), "morning")),
        ("je voudrais un rendez-vous", None),
        ("bonjour", None),
        ("oui", None),
    ],
)
def test_parse_when(text: str, expected: When | None) -> None:
    assert parse_when(text, TODAY) == expected


def test_number_words_become_digits_but_not_inside_words() -> None:
    assert normalise("Quatorze heures trente, dix-sept décembre") == "14 heures 30, 17 decembre"
    assert normalise("un rendez-vous le deuxième à une heure") == "un rendez vous le deuxieme a 1 heure"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plutôt l'après-midi", When(day(3), day(3), "afternoon")),  # the days stay
        ("et vendredi ?", When(day(4), day(4), "morning")),  # the morning stays
        ("la semaine prochaine vers 11 h", When(MONDAY, day(12), at=time(11))),
        ("non", None),
    ],
)
def test_refine_keeps_what_is_not_said_again(text: str, expected: When | None) -> None:
    assert refine_when(When(day(3), day(3), "morning"), text, TODAY) == expected


OFFERED = [Slot("etat-civil", datetime(2026, 12, 3, 10, 30), datetime(2026, 12, 3, 10, 50)),
           Slot("etat-civil", datetime(2026, 12, 8, 14, 0), datetime(2026, 12, 8, 14, 20))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("le premier", 0),
        ("la première", 0),
        ("le deuxième", 1),
        ("le second", 1),
        ("le dernier", 1),
        ("celui de mardi", 1),
        ("jeudi", 0),
        ("celui de demain", 0),
        ("le 8", 1),
        ("10 h 30", 0),
        ("quatorze heures", 1),
        ("celui du matin", 0),
        ("oui l'après-midi ça m'arrange", 1),
        ("mercredi", None),  # neither
        ("à 11 h", None),
        ("plutôt la semaine prochaine", None),  # another wish, not a choice
        ("euh", None),
    ],
)
def test_parse_choice(text: str, expected: int | None) -> None:
    assert parse_choice(text, OFFERED, TODAY) == expected


def test_a_third_slot_does_not_exist_when_two_are_offered() -> None:
    assert parse_choice("le troisième", OFFERED, TODAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("oui", True), ("d'accord", True), ("c'est ça", True), ("parfait", True),
     ("oui pas de souci", True), ("ça me va", True), ("non", False), ("pas du tout", False),
     ("non merci", False), ("absolument pas", False), ("ça ne me va pas", False),
     ("mardi", None), ("euh", None)],
)
def test_parse_yes_no(text: str, expected: bool | None) -> None:
    assert parse_yes_no(text) is expected


def test_yes_no_agrees_with_the_nlu_affirm_and_deny_examples() -> None:
    for path in sorted((DATA_DIR / "nlu").glob("part1*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if block.get("intent") in ("affirm", "deny"):
                examples = [line[2:] for line in block["examples"].splitlines() if line.strip()]
                wrong = [e for e in examples if parse_yes_no(e) is not (block["intent"] == "affirm")]
                assert wrong == [], f"{path.name}, {block['intent']}"
