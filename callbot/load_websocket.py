"""``callbot bench load`` over the generic WebSocket bridge: callers of ``call_client`` asking
scripted questions (a different rotation of the French clips for each caller). A call is
refused cleanly by a close 1013 (try again later); late frames are counted where the caller
receives them; the call log must hold every call the bot took, closed, with every turn the
caller heard (the bridge sends each turn's report to the caller).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from callbot.call_client import CallReport, Step, call_websocket
from callbot.load_common import PhaseAudio, caller_number, no_call_log, read_call_log
from callbot.voice_bench import answer_latencies, caller_clips, receiver_late_frames
from callbot.voice_server import VoiceServer

CALL_TIMEOUT_SEC = 240.0  # a scripted call still running after this has failed
CLEAN_CLOSE_CODES = {None, 1000, 1001}


def outcome(report: CallReport) -> str:
    """``completed``, ``refused`` (cleanly, over capacity) or ``failed:<why>``."""
    from callbot.bridge.websocket_server import CLOSE_TRY_AGAIN_LATER  # pipecat: not at CLI start

    if not report.call_id:
        return "refused" if report.close_code == CLOSE_TRY_AGAIN_LATER else "failed:not_started"
    if report.greeting_latency_ms is None:
        return "failed:no_greeting"
    if report.close_code not in CLEAN_CLOSE_CODES:
        return f"failed:closed_{report.close_code}"
    return "completed"


class WebSocketLoad:
    """The callers: ``call_client`` on the bridge's ``/call`` URL."""

    name = "websocket"

    def __init__(self, server: VoiceServer) -> None:
        self.url = server.call_url
        self.clips = caller_clips()
        self.started: list[CallReport] = []  # every call the bot took, for the call log check
        self._completed: list[CallReport] = []  # this phase's

    async def call(self, number: int, questions: int) -> str:
        steps: list[Step] = [self.clips[(number + i) % len(self.clips)] for i in range(questions)]
        try:
            report = await asyncio.wait_for(
                call_websocket(self.url, steps, caller=caller_number(number)), CALL_TIMEOUT_SEC)
        except TimeoutError:
            return "failed:timeout"
        except (aiohttp.ClientError, OSError) as exc:
            return f"failed:{type(exc).__name__}"
        if report.call_id:
            self.started.append(report)
        verdict = outcome(report)
        if verdict == "completed":
            self._completed.append(report)
        return verdict

    def phase_audio(self) -> PhaseAudio:
        reports, self._completed = self._completed, []
        late = receiver_late_frames(reports)
        answered = sum(any(t.get("caller") for t in r.turns) for r in reports)
        return PhaseAudio({"calls_answered": answered, **answer_latencies(reports), **late},
                          late["late_frames"], late["frames_received"])

    async def call_sec(self, asked: float | None) -> float:
        """As asked, or measured by a probe call (one question) with nobody else calling."""
        if asked:
            return asked
        started = time.monotonic()
        verdict = await self.call(0, 1)
        self.phase_audio()  # the probe belongs to no phase
        if verdict != "completed":
            raise RuntimeError(f"the probe call did not complete: {verdict}")
        return time.monotonic() - started

    def store_losses(self, database: Path) -> dict[str, Any]:
        return store_losses(database, self.started)


def store_losses(database: Path, started: list[CallReport]) -> dict[str, Any]:
    """Calls the callers saw answered that the call log lacks or left open, and bot turns
    they heard that it lacks; read once ``serve`` has stopped (its writer flushed)."""
    log = read_call_log(database)
    if log is None:
        return no_call_log(database)
    outcomes = {call_id: result for call_id, _, result in log.calls}
    turns = log.turns
    missing = [r.call_id for r in started if r.call_id not in outcomes]
    unclosed = [r.call_id for r in started if outcomes.get(r.call_id, "") is None]
    lost_turns = sum(max(0, len(r.turns) - turns.get(r.call_id, 0)) for r in started)
    return {"log_records_lost": len(missing) + len(unclosed) + lost_turns,
            "calls_in_store": len(outcomes), "calls_missing_from_store": len(missing),
            "calls_left_open_in_store": len(unclosed), "turns_missing_from_store": lost_turns}
