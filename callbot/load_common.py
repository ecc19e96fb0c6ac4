"""What every transport of ``callbot bench load`` shares with the driver: each call's
calling number, the audio a phase's callers received, and the call log read back.

Its own module so the transports (``load_websocket``, ``load_sip``) and the driver
(``load_bench``), which picks one of them, need not import each other.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def caller_number(number: int) -> str:
    """The calling number of call ``number``: distinct per call (the SIP path finds each call's
    record in the call log by its pseudonym)."""
    return f"+3313900{number:04d}"


@dataclass
class PhaseAudio:
    """The audio the callers of one phase received: figures for the JSON line, and the two
    terms of the late ratio (WebSocket: late frames of frames received; SIP: late or missing
    RTP packets of the packets owed)."""

    figures: dict[str, Any]
    late: int
    of: int


@dataclass
class CallLog:
    """The run's SQLite call log, as ``serve`` left it."""

    calls: list[tuple[str, str | None, str | None]]  # id, caller pseudonym, outcome
    turns: dict[str, int]  # call id → turns recorded


def read_call_log(database: Path) -> CallLog | None:
    """None when there is no SQLite log there (``CALLBOT_STORE__URL`` points elsewhere)."""
    if not database.exists():
        return None
    with closing(sqlite3.connect(database)) as db:
        return CallLog(list(db.execute("SELECT id, caller, outcome FROM calls")),
                       dict(db.execute("SELECT call_id, count(*) FROM turns GROUP BY call_id")))


def no_call_log(database: Path) -> dict[str, Any]:
    return {"log_records_lost": None, "store": f"no SQLite call log at {database}"}
