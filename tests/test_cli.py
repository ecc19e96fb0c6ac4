"""The ``callbot`` console script: run as a real subprocess (the contracts other tools use),
and its parser and helpers in-process (help texts, -v, log levels, key presses, passwords)."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from loguru import logger

from callbot import cli
from callbot.brain import Brain
from callbot.config import Settings, StoreSettings
from callbot.conversation.call_events import CallOutcome
from callbot.nlu.intents import ALL_INTENTS
from callbot.store.accounts import MIN_PASSWORD_LENGTH
from callbot.store.calllog import attach_call_log
from callbot.web.commands import _password
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


def in_process(argv: list[str]) -> int:
    """``callbot ARGV`` in this process; loguru's sinks, which ``main`` replaces, put back."""
    try:
        return cli.main(argv)
    finally:
        logger.remove()
        logger.add(sys.__stderr__)


# --- the parser -------------------------------------------------------------------------------

#: Options still without a help text, in modules this file's owners do not edit (bench tools,
#: town-data import/export); none may be added: every other option must say what it does.
KNOWN_WITHOUT_HELP = frozenset({
    "kb export faq file", "kb export annuaire file",
    "bench vad --stop-secs", "bench load --transport",
    "bench load --profile", "bench load --calls-per-day", "bench load --seed",
    "bench sip --concurrent", "bench fuzz --seed", "bench sip-fuzz --inputs",
    "bench sip-fuzz --seed",
})


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
              ) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command parser with its path, the top one first."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*path, name))
    return found


def test_every_option_of_every_command_has_a_help_text() -> None:
    missing = {" ".join((*path, action.option_strings[-1] if action.option_strings
                         else action.dest))
               for path, parser in _commands(cli.build_parser()) for action in parser._actions
               if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
               and not (action.help or "").strip()}
    assert missing <= KNOWN_WITHOUT_HELP, sorted(missing - KNOWN_WITHOUT_HELP)


def test_top_help_lists_every_command_in_plain_words() -> None:
    parser = cli.build_parser()
    text = parser.format_help()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {action.dest: action.help for action in commands._choices_actions}
    assert set(helps) == set(commands.choices) >= {"serve", "chat", "web", "doctor", "users"}
    for name, help_text in helps.items():
        assert help_text and "`" not in help_text, name
        assert f"    {name} " in text
    assert "`" not in text and "callbot serve" in parser.epilog and "callbot chat" in parser.epilog
    assert list(helps)[:3] == ["serve", "chat", "doctor"]


@pytest.mark.parametrize("argv", [["chat", "-v"], ["-v", "chat"], ["--verbose", "chat"],
                                  ["nlu", "parse", "-v", "bonjour"], ["bench", "nlu", "-v"]])
def test_verbose_before_or_after_the_command(argv: list[str]) -> None:
    assert cli.build_parser().parse_args(argv).verbose is True


@pytest.mark.parametrize(("argv", "level"), [
    (["serve"], "INFO"), (["web"], "INFO"), (["chat"], "WARNING"), (["doctor"], "WARNING"),
    (["kb", "validate"], "WARNING"), (["serve", "-v"], "DEBUG"), (["-v", "chat"], "DEBUG")])
def test_long_running_commands_log_at_info(argv: list[str], level: str) -> None:
    assert cli.log_level(cli.build_parser().parse_args(argv)) == level


def test_version(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as done:
        in_process(["--version"])
    assert done.value.code == 0
    name, version = capsys.readouterr().out.split()
    import importlib.metadata

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert name == "callbot" and version == cli._version()  # pyproject's, in a bare checkout


# --- chat ---------------------------------------------------------------------------------------

class _Heard:
    """Stands for a Conversation: says which of its inputs a line became."""

    def dtmf(self, key: str) -> tuple[str, str]:
        return ("dtmf", key)

    def hear(self, text: str) -> tuple[str, str]:
        return ("hear", text)

    def silence(self) -> tuple[str, str]:
        return ("silence", "")


@pytest.mark.parametrize(("line", "taken"), [
    ("0", ("dtmf", "0")), (" 7 ", ("dtmf", "7")), ("*", ("dtmf", "*")), ("#", ("dtmf", "#")),
    ("", ("silence", "")), ("   ", ("silence", "")), ("00", ("hear", "00")),
    ("²", ("hear", "²")), ("zéro", ("hear", "zéro"))])
def test_a_lone_key_is_pressed_an_empty_line_is_a_silence(line: str, taken: tuple) -> None:
    assert cli._caller_turn(_Heard(), line) == taken  # type: ignore[arg-type]


def test_chat_script_line_0_is_the_key(env: dict[str, str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("CALLBOT_NLU__CACHE_DIR", "CALLBOT_DATA_DIR"):
        monkeypatch.setenv(name, env[name])
    script = tmp_path / "script.txt"
    script.write_text("\n0\n", encoding="utf-8")
    assert in_process(["chat", "--script", str(script), "--now", "2026-12-01T10:30"]) == 0
    turns = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(turns) == 1 and turns[0]["caller"] == "<dtmf 0>"
    assert turns[0]["action"] == "transfer"


def test_record_with_a_fixed_clock_logs_the_real_time(brain: Brain, tmp_path: Path) -> None:
    fixed = datetime(2026, 12, 5, 10, 30)
    town = ZoneInfo("Europe/Paris")
    conversation = brain.conversation(lambda: fixed)
    writer = attach_call_log(conversation, StoreSettings(state_dir=tmp_path,
                                                         pseudonym_key="test"), "Europe/Paris")
    before = datetime.now(town).replace(tzinfo=None)
    conversation.start()
    conversation.hear("quels sont les horaires de la mairie")
    conversation.close(CallOutcome.ABANDONED)
    writer.close()
    after = datetime.now(town).replace(tzinfo=None)
    assert conversation.state.started_at == fixed  # the policy answered for the fixed moment
    with sqlite3.connect(tmp_path / "callbot.db") as db:
        started, ended, day = db.execute("SELECT started_at, ended_at, day FROM calls").fetchone()
        turns = [datetime.fromisoformat(at) for (at,) in db.execute("SELECT at FROM turns")]
    moments = [datetime.fromisoformat(started), datetime.fromisoformat(ended), *turns]
    assert len(turns) == 2 and day == before.date().isoformat() != fixed.date().isoformat()
    assert all(before - timedelta(seconds=1) <= at <= after for at in moments), moments


# --- users --------------------------------------------------------------------------------------

def test_users_add_refuses_a_short_password_from_stdin(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CALLBOT_STORE__STATE_DIR", str(tmp_path))
    monkeypatch.delenv("CALLBOT_STORE__URL", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("court\n"))
    assert in_process(["users", "add", "marie", "--password-stdin"]) == 2
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in capsys.readouterr().err
    assert not (tmp_path / "callbot.db").exists()  # refused before the database is opened


def test_users_add_asks_again_right_after_a_short_password(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    good = "x" * MIN_PASSWORD_LENGTH
    typed = iter(["court", good, good])
    prompts: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or next(typed))
    assert _password(argparse.Namespace(password_stdin=False)) == good
    assert prompts == ["password: ", "password: ", "again: "]
    assert "try again" in capsys.readouterr().err


def test_users_add_gives_the_campaigns_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A CCAS agent's account from the command line (issue 16: the role beside the ladder)."""
    monkeypatch.setenv("CALLBOT_STORE__STATE_DIR", str(tmp_path))
    monkeypatch.delenv("CALLBOT_STORE__URL", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("x" * MIN_PASSWORD_LENGTH + "\n"))
    assert in_process(["users", "add", "claire", "--role", "campaigns", "--password-stdin"]) == 0
    assert in_process(["users", "list"]) == 0
    assert "claire" in (listed := capsys.readouterr().out) and "campaigns" in listed, listed
