"""The ``callbot`` console script, run as a real subprocess (the contracts other tools use)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from callbot.config import Settings
from callbot.nlu.intents import ALL_INTENTS
from tests.conftest import DATA_DIR


@pytest.fixture(scope="module")
def env(settings: Settings, brain: object) -> dict[str, str]:
    """Point the subprocess at the model cache the session fixtures already filled."""
    return {**os.environ, "CALLBOT_NLU__CACHE_DIR": str(settings.nlu.cache_dir),
            "CALLBOT_DATA_DIR": str(DATA_DIR)}


def run(args: list[str], env: dict[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(["callbot", *args], input=stdin, capture_output=True, env=env,
                          timeout=120, check=False)


def test_chat_script_prints_one_json_line_per_caller_line(env: dict[str, str]) -> None:
    script = "bonjour\nje voudrais une copie d'acte de naissance\nnon\nnon merci au revoir\n"
    done = run(["chat", "--script", "-", "--now", "2026-12-01T10:30"], env, script.encode())
    assert done.returncode == 0, done.stderr
    turns = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [t["caller"] for t in turns] == script.strip().splitlines()
    assert {"caller", "bot", "intent", "confidence", "action"} <= set(turns[0])
    assert turns[1]["intent"] == "civil_status_certificate" and turns[1]["action"] == "answer"
    assert turns[-1]["action"] == "hangup"


def test_chat_script_survives_bad_bytes_and_long_lines(env: dict[str, str],
                                                       tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_bytes(b"caf\xe9 \xff\xfe\n" + b"a" * 10_000 + b"\nje veux parler a un agent\n")
    done = run(["chat", "--script", str(script), "--now", "2026-12-01T10:30"], env)
    assert done.returncode == 0, done.stderr
    turns = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert turns[-1]["action"] == "transfer"
    assert b"Traceback" not in done.stderr


def test_nlu_parse_batch(env: dict[str, str]) -> None:
    done = run(["nlu", "parse", "--batch"], env, b"mon passeport\n\nquel temps demain\n")
    results = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r["intent"]["name"] in (*ALL_INTENTS, "nlu_fallback") for r in results] == [True] * 3
    assert results[0]["intent"]["name"] == "id_card_passport"


def test_nlu_parse_text(env: dict[str, str]) -> None:
    done = run(["nlu", "parse", "je", "voudrais", "me", "pacser"], env)
    assert json.loads(done.stdout)["intent"]["name"] == "pacs"


def test_kb_validate_reports_problems_and_exits_non_zero(env: dict[str, str],
                                                         tmp_path: Path) -> None:
    assert run(["kb", "validate"], env).returncode == 0
    broken = tmp_path / "kb.yml"
    broken.write_text((DATA_DIR / "kb.yml").read_text(encoding="utf-8")
                      .replace("service: etat_civil", "service: etat_cvil", 1), encoding="utf-8")
    done = run(["kb", "validate", str(broken)], env)
    assert done.returncode == 2
    assert f"{broken}:" in done.stderr.decode() and "unknown service 'etat_cvil'" in done.stderr.decode()
    assert b"Traceback" not in done.stderr


def test_chat_refuses_to_start_on_invalid_kb(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "kb.yml"
    broken.write_text("services: {}\n", encoding="utf-8")
    done = run(["chat", "--script", "-"], {**env, "CALLBOT_KB_PATH": str(broken)}, b"bonjour\n")
    assert done.returncode == 2 and b"services" in done.stderr and not done.stdout


def test_nlu_eval_prints_figures(env: dict[str, str], tmp_path: Path) -> None:
    tsv = tmp_path / "q.tsv"
    tsv.write_text("intent\tutterance\npacs\tje voudrais me pacser\n"
                   "out_of_scope\tquelle est la capitale du pérou\n", encoding="utf-8")
    done = run(["nlu", "eval", str(tsv), "--folds", "0"], env)
    figures = json.loads(done.stdout.decode().splitlines()[-1])[str(tsv)]
    assert figures["examples"] == 2 and figures["out_of_scope"] == 1
    assert 0 <= figures["confident_wrong_rate"] <= 1
