"""Every scenario in scenarios/ passes, and the runner really detects a wrong expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbot.brain import Brain
from callbot.config import REPO_ROOT
from callbot.problems import DataError
from callbot.scenarios import load_scenarios, run_scenario

SCENARIOS = load_scenarios(REPO_ROOT / "scenarios")


def test_there_are_at_least_forty_scenarios() -> None:
    assert len(SCENARIOS) >= 40


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(brain: Brain, scenario: object) -> None:
    result = run_scenario(brain, scenario)  # type: ignore[arg-type]
    assert result.passed, "\n".join(result.failures)


def test_runner_reports_a_wrong_expectation(brain: Brain, tmp_path: Path) -> None:
    path = tmp_path / "wrong.yml"
    path.write_text(
        "scenarios:\n  - name: wrong\n    now: '2026-12-01T10:30'\n    turns:\n"
        "      - caller: je veux parler à quelqu'un\n"
        "        expect: {action: answer, says: pizza}\n", encoding="utf-8")
    [scenario] = load_scenarios(path)
    failures = run_scenario(brain, scenario).failures
    assert failures[0] == "turn 1: action: expected 'answer', got 'transfer'"
    assert "bot should say 'pizza'" in failures[1]


def test_runner_checks_what_the_errand_doubles_hold(brain: Brain, tmp_path: Path) -> None:
    path = tmp_path / "errand.yml"
    path.write_text(
        "scenarios:\n  - name: cancel\n    now: '2026-12-08T10:00'\n    caller: '+33612345678'\n"
        "    errands:\n      calendar:\n        - {calendar: etat-civil, start: '2026-12-10T08:30',"
        " minutes: 20, name: Dupont}\n    turns:\n"
        "      - caller: je voudrais annuler mon rendez-vous pour la carte d'identité\n"
        "      - caller: non je le garde\n"
        "    after: {booked: [], sms: 1}\n", encoding="utf-8")
    [scenario] = load_scenarios(path)
    assert run_scenario(brain, scenario).failures == [
        "after: booked [], the calendar holds ['etat-civil 2026-12-10T08:30 Dupont']",
        "after: 1 sms expected, 0 sent"]


@pytest.mark.parametrize(("text", "error"), [
    ("    turns:\n      - caller: allo\n        expect: {acton: answer}\n", "bad.yml:4: error: expect keys"),
    ("    errands: {agenda: []}\n    turns:\n      - caller: allo\n",
     "bad.yml:3: error: errands keys must be among"),
])
def test_malformed_scenario_file_names_the_line(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(f"scenarios:\n  - name: x\n{text}", encoding="utf-8")
    with pytest.raises(DataError, match=error):
        load_scenarios(path)
