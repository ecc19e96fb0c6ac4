"""The call log on both databases: migrations, the writer sink, the spool when the database
is cut, pseudonyms and redaction on disk, and a purge that really deletes.

Runs on a SQLite file and on the real PostgreSQL at 127.0.0.1:5432 (database ``test``), in a
schema made for this run and dropped after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.brain import Brain
from callbot.config import StoreSettings
from callbot.conversation.call_events import CallOutcome
from callbot.privacy import pseudonymise
from callbot.store.calllog import CallLogWriter
from callbot.store.database import create_engine, engine_from_settings, migrate
from callbot.store.retention import purge
from callbot.store.schema import calls, line_events, turns

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CALLER_NUMBER = "+33 6 12 34 56 78"


async def _drop_schema(schema: str) -> None:
    engine = create_engine(PG_URL)
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


def make_store_settings(kind: str, state_dir: Path) -> StoreSettings:
    if kind == "sqlite":
        return StoreSettings(state_dir=state_dir, pseudonym_key="test-key", spool_retry_sec=0.2)
    return StoreSettings(url=PG_URL, schema_name=f"cb_test_{uuid.uuid4().hex[:12]}",
                         state_dir=state_dir, pseudonym_key="test-key", spool_retry_sec=0.2)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSettings]:
    """A fresh, empty store of each kind; the PostgreSQL schema is dropped afterwards."""
    store = make_store_settings(request.param, tmp_path / "state")
    yield store
    if store.schema_name:
        asyncio.run(_drop_schema(store.schema_name))


@pytest.fixture
async def engine(store_settings: StoreSettings) -> AsyncIterator[AsyncEngine]:
    engine = engine_from_settings(store_settings)
    await migrate(engine, store_settings.schema_name)
    yield engine
    await engine.dispose()


def scripted_call(brain: Brain, writer: CallLogWriter, lines: list[str],
                  caller: str | None = CALLER_NUMBER) -> str:
    conversation = brain.conversation(lambda: datetime(2026, 12, 1, 10, 30))
    conversation.caller_id = caller
    conversation.channel = "test"
    conversation.sinks.append(writer)
    conversation.start()
    for line in lines:
        if conversation.ended:
            break
        conversation.hear(line)
    conversation.close(CallOutcome.ABANDONED, detail="caller hung up")
    return conversation.call_id


async def count(engine: AsyncEngine, table: object, call_id: str | None = None) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    if call_id:
        column = table.c.id if table is calls else table.c.call_id  # type: ignore[attr-defined]
        query = query.where(column == call_id)
    async with engine.connect() as connection:
        return (await connection.execute(query)).scalar_one()


async def test_migrations_are_idempotent(engine: AsyncEngine, store_settings: StoreSettings) -> None:
    await migrate(engine, store_settings.schema_name)  # second run: nothing to do, no error
    assert await count(engine, calls) == 0


async def test_writer_logs_a_call_pseudonymised_and_redacted(
        engine: AsyncEngine, store_settings: StoreSettings, brain: Brain) -> None:
    writer = CallLogWriter(store_settings).start()
    started = time.perf_counter()
    call_id = scripted_call(brain, writer, [
        "je voudrais un acte de naissance mon numéro c'est le 06 12 34 56 78",
        "mon mail est jean.dupont@example.fr et mon iban FR76 3000 6000 0112 3456 7890 189",
    ])
    sink_seconds = time.perf_counter() - started
    await asyncio.to_thread(writer.close)
    assert sink_seconds < 5  # the sink only enqueues (the NLU dominates this figure)
    async with engine.connect() as connection:
        call = (await connection.execute(calls.select().where(calls.c.id == call_id))).one()
        texts = (await connection.execute(select(turns.c.caller_text, turns.c.intent,
                                                 turns.c.kb_revision)
                                          .where(turns.c.call_id == call_id)
                                          .order_by(turns.c.seq))).all()
    assert call.outcome == "abandoned" and call.channel == "test"
    assert call.caller == pseudonymise("06 12 34 56 78", b"test-key")  # same number, same name
    assert "612345678" not in call.caller
    assert call.duration_sec is not None
    spoken = " ".join(t.caller_text for t in texts)
    assert "[phone]" in spoken and "[email]" in spoken and "[iban]" in spoken
    for secret in ("06 12 34 56 78", "dupont", "FR76"):
        assert secret not in spoken
    assert any(t.intent == "civil_status_certificate" and t.kb_revision for t in texts)


def _cut_sqlite(store: StoreSettings) -> tuple[callable, callable]:
    hidden = store.state_dir.with_name("hidden")
    return (lambda: store.state_dir.rename(hidden)), (lambda: hidden.rename(store.state_dir))


class _Proxy:
    """A TCP relay to PostgreSQL that the test can switch off, like a network cut."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.alive = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="pg-proxy", daemon=True).start()

    def _accept(self) -> None:
        while self.alive:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.alive:
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.sockets.clear()
        self.alive = False
        self.listener.close()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.alive = True
        threading.Thread(target=self._accept, name="pg-proxy", daemon=True).start()


async def test_nothing_is_lost_when_the_database_is_cut(
        engine: AsyncEngine, store_settings: StoreSettings, brain: Brain, tmp_path: Path) -> None:
    if store_settings.url:
        proxy = _Proxy()
        writer_settings = store_settings.model_copy(update={
            "url": PG_URL.replace(":5432/", f":{proxy.port}/")})
        cut, restore = proxy.cut, proxy.restore
    else:
        writer_settings = store_settings
        cut, restore = _cut_sqlite(store_settings)
    writer = CallLogWriter(writer_settings, spool_dir=tmp_path / "spool").start()
    before = scripted_call(brain, writer, ["bonjour", "les horaires de la mairie"])
    await _wait_for(lambda: writer.written >= 5)
    cut()
    during = [scripted_call(brain, writer, ["la cantine scolaire", "merci au revoir"])
              for _ in range(3)]
    await _wait_for(lambda: writer.spool.pending >= 15)
    assert writer.spool.path.stat().st_size > 0  # the records are on disk, not in memory
    restore()
    await _wait_for(lambda: writer.spool.pending == 0, within_sec=20)
    after = scripted_call(brain, writer, ["bonjour"])
    await asyncio.to_thread(writer.close)
    for call_id in (before, *during, after):
        assert await count(engine, calls, call_id) == 1
        assert await count(engine, turns, call_id) >= 2
    assert not list((tmp_path / "spool").glob("*.jsonl"))


async def test_an_orphaned_spool_is_adopted(engine: AsyncEngine, store_settings: StoreSettings,
                                            brain: Brain, tmp_path: Path) -> None:
    """A writer that died with records spooled: the next writer replays its file."""
    dead = CallLogWriter(store_settings.model_copy(update={
        "url": "postgresql+asyncpg://postgres@127.0.0.1:1/test"}), spool_dir=tmp_path / "spool")
    dead.start()
    call_id = scripted_call(brain, dead, ["bonjour"])
    await asyncio.to_thread(dead.close)
    assert list((tmp_path / "spool").glob("*.jsonl"))
    alive = CallLogWriter(store_settings, spool_dir=tmp_path / "spool").start()
    await _wait_for(lambda: alive.written > 0)
    await asyncio.to_thread(alive.close)
    assert await count(engine, calls, call_id) == 1


async def test_purge_really_deletes(engine: AsyncEngine, store_settings: StoreSettings,
                                    brain: Brain, tmp_path: Path) -> None:
    writer = CallLogWriter(store_settings).start()
    old = scripted_call(brain, writer, ["je voudrais parler à zorglub quatorze"])
    recent = scripted_call(brain, writer, ["bonjour"])
    await asyncio.to_thread(writer.close)
    async with engine.begin() as connection:
        await connection.execute(calls.update().where(calls.c.id == old).values(
            started_at=datetime(2020, 1, 1)))
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (recordings / "old.wav").write_bytes(b"RIFF")
    (recordings / "new.wav").write_bytes(b"RIFF")
    long_ago = datetime(2026, 10, 1).timestamp()
    os.utime(recordings / "old.wav", (long_ago, long_ago))
    report = await purge(engine, 90, datetime(2026, 12, 2), recordings, 30)
    assert report.calls == 1 and report.recordings == 1
    assert await count(engine, calls, old) == 0
    assert await count(engine, turns, old) == 0 and await count(engine, line_events, old) == 0
    assert await count(engine, calls, recent) == 1
    assert not (recordings / "old.wav").exists() and (recordings / "new.wav").exists()
    if not store_settings.url:  # the sentence is gone from the file itself, not just unlinked
        await engine.dispose()
        raw = b"".join(p.read_bytes() for p in store_settings.state_dir.glob("callbot.db*"))
        assert b"zorglub" not in raw


async def _wait_for(condition: callable, within_sec: float = 15.0) -> None:
    deadline = time.monotonic() + within_sec
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def test_the_writer_keeps_nothing_per_call_once_it_is_closed(brain: Brain, tmp_path: Path) -> None:
    """Weeks of calls in one process: the writer's per-call numbering must not grow with them."""
    writer = CallLogWriter(make_store_settings("sqlite", tmp_path / "state")).start()
    try:
        for _ in range(3):
            scripted_call(brain, writer, ["bonjour", "les horaires de la mairie"])
        assert not writer._seq
    finally:
        writer.close()
