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


def test_malformed_scenario_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("scenarios:\n  - name: x\n    turns:\n      - caller: allo\n"
                    "        expect: {acton: answer}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.yml:4: error: expect keys"):
        load_scenarios(path)
