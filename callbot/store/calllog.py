"""The call-log writer: a conversation sink that never blocks the call.

``writer(event)`` only puts the event on a queue. A named thread with its own event
loop turns events into private records and writes them in batches. When the database
cannot take them (or takes longer than ``store.write_timeout_sec``: a database that hangs
is a database that is down), they go to the local spool and are replayed, in order and before
anything newer, once it answers again; spools left by dead writers are adopted too.
With ``recover`` (``callbot serve``), once the spools are replayed the writer closes the
calls that dead processes left open (``callbot.store.recovery``).
"""

from __future__ import annotations

import asyncio
import atexit
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.config import StoreSettings
from callbot.conversation.call_events import CallClosed, CallEvent, CallOutcome
from callbot.conversation.session import Conversation
from callbot.privacy import load_key
from callbot.store.database import engine_from_settings, migrate
from callbot.store.records import Record, to_record
from callbot.store.recovery import close_dead_calls, this_node
from callbot.store.spool import Spool, take_orphan
from callbot.store.writes import apply_records

BATCH_MAX = 200
IDLE_WAKE_SEC = 0.5
_STOP = object()


class CallLogWriter:
    """Sink for ``Conversation.sinks``; ``start()`` once, ``close()`` at shutdown."""

    def __init__(self, store: StoreSettings, spool_dir: Path | None = None, *,
                 recover: bool = False, clock: Callable[[], datetime] = datetime.now,
                 stale_after_sec: float | None = None) -> None:
        self.store = store
        self.node = this_node()
        # closing dead processes' calls: still to do (recover), then done
        self._recover_pending = recover
        self._clock, self._stale_after_sec = clock, stale_after_sec
        self.recovered: list[str] = []  # ids of the calls closed as dead, for tests and logs
        self.key = load_key(store.pseudonym_key, store.state_dir / "pseudonym.key")
        self.spool = Spool(spool_dir or store.state_dir / "spool")
        self.written = 0  # records that reached the database, for tests and the bench
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._seq: defaultdict[str, int] = defaultdict(int)
        self._thread = threading.Thread(target=self._run, name="call-log-writer", daemon=True)
        self._engine: AsyncEngine | None = None
        self._migrated = False
        self._retry_at = 0.0

    def __call__(self, event: CallEvent) -> None:
        seq = self._seq[event.call_id] + 1
        if isinstance(event, CallClosed):  # a call's last record: forget its counter
            del self._seq[event.call_id]
        else:
            self._seq[event.call_id] = seq
        self._queue.put((seq, event))

    def start(self) -> CallLogWriter:
        self._thread.start()
        return self

    def close(self, timeout_sec: float = 10.0) -> None:
        """Write what is queued (or spool it), then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout_sec)
        if self._thread.is_alive():
            logger.error("call-log writer did not stop in time; queued records may be lost")

    # --- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        with asyncio.Runner() as runner:
            try:
                stopping = False
                while not stopping:
                    batch, stopping = self._next_batch()
                    records = [to_record(event, seq, self.key, self.node) for seq, event in batch]
                    runner.run(self._write(records, force_retry=stopping))
            finally:
                if self._engine is not None:
                    runner.run(self._engine.dispose())
                self.spool.close()

    def _next_batch(self) -> tuple[list[tuple[int, CallEvent]], bool]:
        batch: list[tuple[int, CallEvent]] = []
        try:
            item = self._queue.get(timeout=IDLE_WAKE_SEC)
        except queue.Empty:
            return batch, False
        while item is not _STOP:
            batch.append(item)  # type: ignore[arg-type]
            if len(batch) >= BATCH_MAX:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    async def _write(self, records: list[Record], force_retry: bool = False) -> None:
        due = force_retry or time.monotonic() >= self._retry_at
        if due and (self.spool.pending or self._retry_at == 0.0 or self._recover_pending):
            replayed = await self._replay()
            if replayed and self._recover_pending:  # after the replay: it may hold the calls
                await self._recover()
        if not records:
            return
        if self.spool.pending or not due:
            self.spool.append(records)
            return
        if not await self._store(records):
            self.spool.append(records)

    async def _engine_ready(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = engine_from_settings(self.store, pool_size=2)
        if not self._migrated:
            await migrate(self._engine, self.store.schema_name)
            self._migrated = True
        return self._engine

    def _unreachable(self, exc: Exception) -> None:
        self._retry_at = time.monotonic() + self.store.spool_retry_sec
        detail = str(exc) or f"no answer within {self.store.write_timeout_sec:.1f} s"
        logger.warning(f"call log unreachable ({type(exc).__name__}: {detail}); "
                       f"spooling to {self.spool.path}")

    async def _apply(self, records: list[Record]) -> None:
        async with (await self._engine_ready()).begin() as connection:
            await apply_records(connection, records)

    async def _store(self, records: list[Record]) -> bool:
        try:
            await asyncio.wait_for(self._apply(records), self.store.write_timeout_sec)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any database failure: spool, retry later
            self._unreachable(exc)
            return False
        self._retry_at = time.monotonic()
        self.written += len(records)
        return True

    async def _recover(self) -> None:
        """Close, as ``error``, the calls dead processes left open; retried until it works."""
        stale_before = (self._clock() - timedelta(seconds=self._stale_after_sec)
                        if self._stale_after_sec is not None else None)
        try:
            closed = await asyncio.wait_for(self._close_dead(stale_before),
                                            self.store.write_timeout_sec)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._unreachable(exc)
            return
        self._recover_pending = False
        self.recovered.extend(closed)
        if closed:
            logger.warning(f"closed {len(closed)} call(s) left open by a dead callbot process "
                           f"as error: {', '.join(closed)}")

    async def _close_dead(self, stale_before: datetime | None) -> list[str]:
        async with (await self._engine_ready()).begin() as connection:
            return await close_dead_calls(connection, self.node, stale_before)

    async def _replay(self) -> bool:
        """Our spool first, then any orphaned one; stop at the first failure (False)."""
        if self.spool.pending:
            records = self.spool.read()
            if not await self._store(records):
                return False
            logger.info(f"replayed {len(records)} spooled call-log records")
            self.spool.clear()
        for path in self.spool.orphans():
            taken = take_orphan(path)
            if taken is None:
                continue
            handle, records = taken
            try:
                if records and not await self._store(records):
                    return False
                path.unlink(missing_ok=True)
                logger.info(f"replayed {len(records)} records from orphaned spool {path}")
            finally:
                handle.close()
        return True


def attach_call_log(conversation: Conversation, store: StoreSettings,
                    timezone: str) -> CallLogWriter:
    """For ``callbot chat --record``: log this conversation until the process exits.

    The call is logged at the real time in the town's ``timezone``, even when the
    conversation's clock is fixed (``--now``). It is closed as abandoned if input ends first,
    and the queue is written out (or spooled) at exit.
    """
    zone = ZoneInfo(timezone)
    conversation.stamp_clock = lambda: datetime.now(zone).replace(tzinfo=None)
    writer = CallLogWriter(store).start()
    conversation.sinks.append(writer)

    def finish() -> None:
        conversation.close(CallOutcome.ABANDONED, detail="end of input")
        writer.close()

    atexit.register(finish)
    return writer
