"""A person at the dashboard, in a real headless Chromium (Debian's ``chromium``, driven by
playwright's Python package; no browser download): log in, see a call that a scripted
``callbot chat`` produced, edit an answer, preview it, save, hear it from ``callbot chat``,
roll back. Everything runs for real: ``callbot web`` and ``callbot chat`` as subprocesses
on one SQLite call log. Screenshots go to docs/screenshots/ (linked from README.md, docs/operations.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callbot.config import REPO_ROOT, Settings
from callbot.ports import free_port
from tests.conftest import DATA_DIR

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"
QUESTION = "je voudrais déclarer la naissance de mon fils"
NEW_ANSWER = "Une naissance se déclare dans les 5 jours, à la mairie du lieu de naissance."
NOW = "2026-12-01T10:30"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is missing "
                                "(scripts/test installs it)")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, settings: Settings, brain: object) -> dict:
    """A copy of the real data (same fingerprint, so the session's cached model is used)."""
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(DATA_DIR, root / "data")
    return {**os.environ, "CALLBOT_DATA_DIR": str(root / "data"),
            "CALLBOT_NLU__CACHE_DIR": str(settings.nlu.cache_dir),
            "CALLBOT_STORE__STATE_DIR": str(root / "state"),
            "CALLBOT_STORE__PSEUDONYM_KEY": "browser-test"}


def callbot(env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "callbot.cli", *args], cwd=REPO_ROOT,
                          input=stdin, text=True, env=env, capture_output=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done


def chat(env: dict, *lines: str) -> list[dict]:
    done = callbot(env, "chat", "--record", "--script", "-", "--now", NOW,
                   stdin="\n".join(lines) + "\n")
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def server(env: dict) -> Iterator[str]:
    # a week of the switchboard's calls (callbot demo) for the dashboard and its screenshot
    database = Path(env["CALLBOT_STORE__STATE_DIR"]) / "callbot.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    callbot(env, "demo", "--database-url", f"sqlite+aiosqlite:///{database}", "--now",
            "2026-12-01T17:00", "--scale", "0.2")
    callbot(env, "users", "add", "edith", "--role", "editor", "--password-stdin",
            stdin=PASSWORD + "\n")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "callbot.cli", "web", "--port", str(port)],
                               env=env, cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError(process.stdout.read().decode()) from None  # type: ignore[union-attr]
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)


def test_log_in_see_call_edit_preview_save_hear_roll_back(env: dict, server: str) -> None:
    from playwright.sync_api import sync_playwright

    before = chat(env, QUESTION)
    assert before[0]["intent"] == "birth_declaration" and before[0]["action"] == "answer"
    original = before[0]["bot"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="fr-FR")
        page.goto(f"{server}/?from=2026-11-02&to=2026-12-01")
        assert "/login" in page.url
        page.fill("input[name=username]", "edith")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("text=Tableau de bord")
        assert "réglé par le robot" in page.content()  # the demo week, in the town's words
        page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)

        # a chat --record call is logged at the town's real time (Paris, not the machine's UTC)
        today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
        page.goto(f"{server}/calls?kind=test&from={today}&to={today}")
        page.click("table a >> nth=0")
        page.wait_for_selector(f"text={QUESTION}")
        page.screenshot(path=SCREENSHOTS / "call.png", full_page=True)

        page.goto(f"{server}/editor/birth_declaration")
        page.fill("textarea[name=answer]", NEW_ANSWER)
        page.click("button[value=preview]")
        spoken = page.inner_text("#preview")
        assert "cinq jours" in spoken
        page.screenshot(path=SCREENSHOTS / "editor-preview.png", full_page=True)
        page.click("button[value=save]")
        page.wait_for_selector(".ok")
        assert chat(env, QUESTION)[0]["bot"].startswith(NEW_ANSWER)

        page.goto(f"{server}/editor/revisions")
        page.screenshot(path=SCREENSHOTS / "revisions.png", full_page=True)
        page.click("tr:has-text('files as found on disk') button")
        page.wait_for_selector("text=rollback to revision 1")
        browser.close()
    assert chat(env, QUESTION)[0]["bot"] == original
