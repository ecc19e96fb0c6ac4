"""Messages left while a department is closed: stored, listed for the agents, ticked off.

The transcript is redacted here, like the call log's turns, so no caller of this module can
store a raw phone number or e-mail address in it. The callback number is the exception:
agents must dial it, so it is kept as given — shown only to logged-in users, purged with the
call log (``callbot.store.retention``), and left out of every log line and ``repr``.

A message names its call without a foreign key: the call log writes the call through its
queue (or its spool, while the database is away), so the message may well arrive first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callbot.config import StoreSettings
from callbot.privacy import redact
from callbot.store.database import engine_from_settings
from callbot.store.schema import messages

#: Done messages the list still shows under the open ones, the most recently done first.
DONE_SHOWN = 50

T = TypeVar("T")


@dataclass(frozen=True)
class MessageRow:
    id: int
    call_id: str
    created_at: datetime
    service: str
    text: str  # redacted
    callback: str = field(repr=False)  # the number to call back: personal, never in a log
    wants_callback: bool
    mailed_to: str  # "": not sent
    mail_error: str  # "": sent (or not tried)
    done_at: datetime | None
    done_by: str | None

    @property
    def done(self) -> bool:
        return self.done_at is not None


def _clip(value: str, column: str) -> str:
    """Fit a column's length: PostgreSQL refuses a longer string where SQLite keeps it."""
    return value[:messages.c[column].type.length]


async def add_message(engine: AsyncEngine, call_id: str, service: str, text: str, callback: str,
                      wants_callback: bool, mailed_to: str, mail_error: str,
                      at: datetime) -> int:
    """Store one message (``text`` redacted on the way in); returns its id.

    ``callback`` is "" when the caller gave no number; ``at`` is the town's naive local
    time, as the call log keeps times.
    """
    async with engine.begin() as connection:
        return await insert_message(connection, call_id, service, text, callback, wants_callback,
                                    mailed_to, mail_error, at)


async def insert_message(connection: AsyncConnection, call_id: str, service: str, text: str,
                         callback: str, wants_callback: bool, mailed_to: str, mail_error: str,
                         at: datetime) -> int:
    """``add_message`` inside the caller's transaction (a campaign's callback task is written
    with the contact's final status, or not at all)."""
    result = await connection.execute(insert(messages).values(
        call_id=call_id, created_at=at, service=_clip(service, "service"), text=redact(text),
        callback=_clip(callback, "callback"), wants_callback=wants_callback,
        mailed_to=_clip(mailed_to, "mailed_to"), mail_error=_clip(mail_error, "mail_error")))
    return result.inserted_primary_key[0]


async def open_messages(engine: AsyncEngine, limit: int = 200) -> list[MessageRow]:
    """The messages still to handle, newest first (at most ``limit``), then the last
    ``DONE_SHOWN`` done ones, the most recently done first."""
    to_do = (select(messages).where(messages.c.done_at.is_(None))
             .order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(limit))
    done = (select(messages).where(messages.c.done_at.is_not(None))
            .order_by(messages.c.done_at.desc(), messages.c.id.desc()).limit(DONE_SHOWN))
    async with engine.connect() as connection:
        rows = [*await connection.execute(to_do), *await connection.execute(done)]
    return [MessageRow(**row._mapping) for row in rows]


async def mark_done(engine: AsyncEngine, message_id: int, username: str,
                    at: datetime | None = None) -> bool:
    """Tick a message off; ``False`` if there is no such message or it was done already
    (the first agent to tick it keeps the credit: two tabs, one callback)."""
    async with engine.begin() as connection:
        result = await connection.execute(
            update(messages).where(messages.c.id == message_id, messages.c.done_at.is_(None))
            .values(done_at=at or datetime.now(), done_by=username))
    return result.rowcount == 1


def blocking(store: StoreSettings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on an engine of its own, from a thread without an event loop.

    For the errand dialogues, which run in the conversation's worker thread:
    ``blocking(settings.store, lambda e: add_message(e, …))``. A message is rare, so a
    short-lived engine costs less than sharing one across threads and loops. The schema is
    not migrated here: the call log's writer and the web app do that when they start.
    """
    async def main() -> T:
        engine = engine_from_settings(store, pool_size=1)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())
