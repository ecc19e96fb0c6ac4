"""Issue 7, "no log record lost": every call the bot admitted is in the call log, closed, with
an outcome, however early its caller hangs up.

A call is *admitted* once its ``start`` message is accepted (a call id, a free slot); a
connection refused over capacity (close 1013) or without a valid ``start`` (close 1002) never
became a call and is not logged. Real parts: a real ``callbot serve`` with its SQLite call log,
real WebSocket callers, real speech models.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
from sqlalchemy import select

from callbot.brain import Brain
from callbot.bridge.generic_wire import outgoing
from callbot.call_client import read_wav
from callbot.conversation.call_events import CallClosed, CallEvent, CallOpened, CallOutcome
from callbot.store.database import engine_from_settings
from callbot.store.schema import calls
from tests.call_timeline import (
    FRAME_SEC,
    RATE_HZ,
    Timeline,
    _bot_quiet,
    _receive,
    wait_until,
)
from tests.test_failover import AUDIO, faulty_server, sqlite_store

#: When the caller hangs up (``stop``, then the socket closes): right after its ``start`` (the
#: bot is still answering it), once the bot said ``started``, at the greeting's first audio,
#: halfway through its own question. "dropped": the socket closes at the greeting with no
#: ``stop``, a broken line, which the call log says is an error.
MOMENTS = {"handshake": "abandoned", "started": "abandoned", "greeting": "abandoned",
           "turn": "abandoned", "dropped": "error"}
CALLS_PER_MOMENT = 4
SPOKEN_SEC = 0.6  # of the question, before the caller hangs up mid-turn


async def _hang_up_at(url: str, moment: str) -> str:
    """One call dropped at ``moment``; returns its call id."""
    call_id = f"h-{moment}-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        line = Timeline(call_id, asyncio.get_running_loop().time())
        await ws.send_str(outgoing("start", call_id=call_id, sample_rate=RATE_HZ))
        receiver = asyncio.create_task(_receive(ws, line), name="hangup-receive")
        if moment == "started":
            await wait_until(lambda: line.event("started") is not None, "started", 30)
        elif moment in {"greeting", "dropped"}:
            await wait_until(lambda: bool(line.audio) or line.closed.is_set(), "greeting", 60)
        elif moment == "turn":
            await wait_until(lambda: bool(line.audio) or line.closed.is_set(), "greeting", 60)
            await _bot_quiet(line, 60)
            speech = read_wav(AUDIO / "fr_horaires.wav", RATE_HZ)
            frame = int(RATE_HZ * FRAME_SEC) * 2
            for offset in range(0, int(RATE_HZ * SPOKEN_SEC) * 2, frame):
                await ws.send_bytes(speech[offset:offset + frame].ljust(frame, b"\0"))
                await asyncio.sleep(FRAME_SEC)
        if moment != "dropped" and not ws.closed:
            await ws.send_str(outgoing("stop"))
        await ws.close()
        await receiver
    return call_id


async def _not_a_call(url: str) -> None:
    """Connects, says nothing valid, hangs up: refused in the handshake, not a call."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str('{"type": "dtmf", "digit": "1"}')
        await ws.receive()


async def test_every_admitted_call_is_logged_closed_however_early_it_hangs_up(
        nlu_cache: Path, tmp_path: Path) -> None:
    """Calls dropped at every early moment at once: each one admitted is in the log, closed
    with its outcome; the connection that never became a call is not."""
    # a slow database (the shared machine under load) must spool nothing: this test is
    # about early hang-ups, test_failover about a database that does not answer
    with faulty_server(nlu_cache, tmp_path, CALLBOT_STORE__WRITE_TIMEOUT_SEC="60") as server:
        dropped = [_hang_up_at(server.call_url, moment)
                   for moment in MOMENTS for _ in range(CALLS_PER_MOMENT)]
        call_ids = await asyncio.gather(*dropped)
        await _not_a_call(server.call_url)
    # serve has stopped: its writer flushed every record to the database
    assert "call refused" not in server.log_text()  # every call was admitted
    engine = engine_from_settings(sqlite_store(tmp_path))
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(calls.c.id, calls.c.outcome,
                                                    calls.c.ended_at))).all()
    finally:
        await engine.dispose()
    stored = {row.id: (row.outcome, row.ended_at is not None) for row in rows}
    expected = {call_id: (MOMENTS[call_id.split("-")[1]], True) for call_id in call_ids}
    assert stored == expected, server.log_text()[-3000:]


def test_a_hang_up_before_the_greeting_opens_the_record_before_closing_it(brain: Brain) -> None:
    """The caller's ``stop`` can reach the conversation before the pipeline's start does: the
    record is opened first, and the late start neither reopens it nor greets nobody."""
    events: list[CallEvent] = []
    conversation = brain.conversation()
    conversation.sinks.append(events.append)
    conversation.close(CallOutcome.ABANDONED, detail="caller_stop")
    greeting = conversation.start()
    assert [type(event) for event in events] == [CallOpened, CallClosed]
    assert not (greeting.says or greeting.transfer or greeting.hangup)
