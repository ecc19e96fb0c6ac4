"""``callbot campaign import|status|run|purge|dnc`` in-process on a SQLite store: the import's
report and exit codes, the status, a dry run at a closed hour, a run over a given dialer,
the do-not-call list and the purge."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import pytest
from loguru import logger

from callbot import cli
from callbot.campaigns.fake_dialer import Answer, FakeDialer
from callbot.config import Settings
from callbot.privacy import pseudonymise

LIST = """Nom;Téléphone;Quartier
Mme Jeanne Martin;06 12 34 56 78;Centre
M. Paul Durand;;Gare
M. Louis Bernard;+33 7 81 23 45 67;Port
Mme Rose Petit;0970123456;Gare
"""
TUESDAY, SUNDAY = "2026-06-02T10:00", "2026-06-07T10:00"
#: ``callbot(*args, now=…)`` → (exit code, stdout, stderr)
Callbot = Callable[..., tuple[int, str, str]]


@contextlib.asynccontextmanager
async def fake_dialer(settings: Settings) -> AsyncIterator[FakeDialer]:
    """``--dialer tests.test_campaign_cli:fake_dialer``: everyone answers « oui »."""
    yield FakeDialer(lambda number, attempt: Answer(replies=("oui",)), datetime.now)


@pytest.fixture
def callbot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Callbot:
    """``callbot(*args, now=…)`` → (exit code, stdout, stderr), on a store of its own."""
    monkeypatch.setenv("CALLBOT_STORE__STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CALLBOT_STORE__PSEUDONYM_KEY", "test-key")

    def run(*args: str, now: str = TUESDAY) -> tuple[int, str, str]:
        monkeypatch.setenv("CALLBOT_FIXED_NOW", now)
        try:
            code = cli.main(list(args))
        finally:
            logger.remove()
            logger.add(sys.__stderr__)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def import_list(callbot, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "registre.csv"
    path.write_text(LIST, encoding="utf-8")
    return callbot("campaign", "import", str(path), "--kind", "heatwave", "--name", "Canicule",
                   "--callback", "02 40 12 34 00", "--town", "Villebrune", "--pacing-sec", "0",
                   *extra)


def test_import_reports_the_rows_left_out_and_stores_the_rest(callbot: Callbot, tmp_path: Path) -> None:
    code, out, _ = import_list(callbot, tmp_path)
    assert code == 1  # some rows left out
    lines = out.splitlines()
    assert lines[0] == f"{tmp_path / 'registre.csv'}:3: rejected: no phone number"
    assert lines[1].startswith("campaign 1 « Canicule »: 3 people to call from 4 rows (1 left out)")
    code, out, _ = callbot("campaign", "status", "1")
    assert code == 0 and json.loads(out) == {"campaign": 1, "name": "Canicule", "status": "ready",
                                             "people": 3, "pending": 3}
    _, out, _ = callbot("campaign", "status", "1", "--people")
    assert out.splitlines()[0] == "2\tMme Jeanne Martin\t06 12 34 56 78\tpending\t0"
    _, out, _ = callbot("campaign", "status")
    assert out == "1\tready\theatwave\t3 people\tCanicule\n"


def test_a_dry_run_says_when_calls_would_start(callbot: Callbot, tmp_path: Path) -> None:
    import_list(callbot, tmp_path)
    code, out, _ = callbot("campaign", "run", "1", "--dry-run", now=SUNDAY)
    assert code == 0
    assert out == ("2026-06-07 10:00: window closed: no calls on this weekday; 0 call(s) would "
                   "start now; next look at 2026-06-08 09:00 (outside the calling window)\n")
    _, out, _ = callbot("campaign", "run", "1", "--dry-run", now=TUESDAY)
    assert out.startswith("2026-06-02 10:00: window open; 3 call(s) would start now")


def test_run_calls_everyone_over_the_given_dialer(callbot: Callbot, tmp_path: Path) -> None:
    import_list(callbot, tmp_path)
    code, out, err = callbot("campaign", "run", "1", "--dialer", "tests.test_campaign_cli:fake_dialer")
    assert code == 0 and json.loads(out) == {"campaign": 1, "fine": 3}
    person = pseudonymise("06 12 34 56 78", b"test-key")
    assert f"campaign 1 person {person}: dialing (try 1)" in err  # the log names pseudonyms…
    assert "34 56 78" not in err and "612345678" not in err and "Martin" not in err  # …only
    _, out, _ = callbot("campaign", "status", "1")
    assert json.loads(out)["status"] == "finished"
    code, _, err = callbot("campaign", "run", "1", "--dialer", "nowhere:nothing")
    assert code == 2 and "no dialer 'nowhere:nothing'" in err


def test_the_do_not_call_list_and_the_purge(callbot: Callbot, tmp_path: Path) -> None:
    import_list(callbot, tmp_path, "--retention-days", "7")
    assert callbot("campaign", "dnc", "check", "06.12.34.56.78")[0] == 1
    assert callbot("campaign", "dnc", "add", "+33 6 12 34 56 78")[1] == "added to the do-not-call list\n"
    assert callbot("campaign", "dnc", "add", "0612345678")[1] == "already on the do-not-call list\n"
    assert callbot("campaign", "dnc", "check", "06 12 34 56 78")[0] == 0
    _, out, _ = callbot("campaign", "run", "1", "--dry-run")
    assert "2 call(s) would start now" in out  # the listed number is left out
    assert callbot("campaign", "purge", now="2026-06-05T10:00")[1] == '{"campaigns_purged": 0}\n'
    assert callbot("campaign", "purge", now="2026-06-10T10:00")[1] == '{"campaigns_purged": 1}\n'
    assert callbot("campaign", "status")[1] == ""


def test_the_store_purge_purges_campaigns_past_their_retention(callbot: Callbot,
                                                               tmp_path: Path) -> None:
    """``callbot store purge`` (the cron job of docs/privacy.md) takes the campaigns too: a
    list of June with a week's retention is gone by now."""
    import_list(callbot, tmp_path, "--retention-days", "7")
    code, out, _ = callbot("store", "purge")
    assert code == 0 and json.loads(out)["campaigns"] == 1
    assert callbot("campaign", "status")[1] == ""


@pytest.mark.parametrize(("extra", "error"), [
    (("--window", "19:00-09:00"), "--window '19:00-09:00' ends before it starts"),
    (("--window", "9h-19h"), "--window '9h-19h': expected like 09:00-19:00"),
    (("--message", "Bonjour {nom}, rendez-vous {date}."),
     "the message uses {date}, which the list has no column for (it has: {nom}, {quartier})"),
    (("--kind", "question"), "a question campaign needs --question"),
    (("--kind", "reminder"), "a reminder campaign needs --message"),
])
def test_what_cannot_be_imported_is_said(callbot: Callbot, tmp_path: Path, extra: tuple[str, ...],
                                         error: str) -> None:
    code, _, err = import_list(callbot, tmp_path, *extra)
    assert code == 2 and error in err
    assert callbot("campaign", "status")[1] == ""  # nothing stored
