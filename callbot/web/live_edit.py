"""An editor's save seen from a separate, already running bot process.

``ChatProcess`` keeps one ``callbot chat --script -`` running: a caller line in, the bot's
JSON turn out, on the same conversation, as a phone call would. ``until`` asks again
until the bot's turn shows the change, and says how long that took. The test of the
editor and ``callbot bench editor`` both drive a real web app against it.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from callbot.config import Settings

POLL_SEC = 0.2
#: The running "caller" keeps asking the same thing: never hand it to a person for that.
PATIENT_CALLER = {"CALLBOT_POLICY__MAX_MISUNDERSTANDINGS": "100000",
                  "CALLBOT_POLICY__MAX_SILENCES": "100000"}


def chat_env(settings: Settings) -> dict[str, str]:
    """The environment of a bot process reading the same data as ``settings``."""
    return {**os.environ, **PATIENT_CALLER,
            "CALLBOT_DATA_DIR": str(settings.data_dir),
            "CALLBOT_NLU__CACHE_DIR": str(settings.nlu.cache_dir),
            "CALLBOT_STORE__STATE_DIR": str(settings.store.state_dir / "chat"),
            "CALLBOT_STORE__URL": "", "CALLBOT_STORE__SCHEMA_NAME": ""}


class ChatProcess:
    """``callbot chat --script -`` kept running; ``close()`` ends it."""

    def __init__(self, env: dict[str, str], now: str) -> None:
        env = {k: v for k, v in env.items() if v != ""}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "callbot.cli", "chat", "--no-record", "--script", "-",
             "--now", now], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def ask(self, line: str, confirm: bool = False) -> dict:
        """The bot's turn; with ``confirm``, a clarification is answered "oui" first."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the chat process ended (exit code {self.process.poll()})")
        turn = json.loads(answer)
        return self.ask("oui") if confirm and turn["action"] == "clarify" else turn

    def until(self, line: str, done: Callable[[dict], bool], timeout_sec: float,
              since: float | None = None, confirm: bool = False) -> float:
        """Ask ``line`` until ``done(turn)``; seconds from ``since`` (default: now)."""
        started = time.monotonic() if since is None else since
        while True:
            turn = self.ask(line, confirm)
            if done(turn):
                return time.monotonic() - started
            if time.monotonic() - started > timeout_sec:
                raise TimeoutError(f"after {timeout_sec:.0f} s the bot still says {turn}")
            time.sleep(POLL_SEC)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def topic_form(page: str, **changes: str) -> dict[str, str]:
    """The editor form of a topic page as the browser would post it, with ``changes``."""
    def field(name: str) -> str:
        textarea = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
        if textarea:
            return html.unescape(textarea.group(1))
        value = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
        if value is None:
            raise ValueError(f"no field {name!r} in the page")
        return html.unescape(value.group(1))

    form = {name: field(name) for name in ("csrf_token", "version", "label", "answer", "details",
                                           "link", "examples")}
    return {**form, "action": "save", **changes}


def copy_data(source: Path, target: Path) -> Path:
    """A scratch copy of the data folder the editor may change."""
    import shutil

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("editor.yml"))
    return target
