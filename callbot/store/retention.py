"""The retention purge: calls older than the configured period are really deleted.

Turns and line events go with their call (``ON DELETE CASCADE``); messages left out of
hours, done or not, go when they are as old, or with their call (they name it without a
foreign key, so they are deleted explicitly, before it). On SQLite the file is
written with ``secure_delete`` (the bytes are overwritten); on PostgreSQL a ``VACUUM``
follows so dead rows do not linger in the table files. Recordings, when recording is
switched on, have their own period and are deleted from disk the same way; so does a
message's audio (``callbot.store.message_audio``), and with its message if that goes first.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from loguru import logger
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.store.message_audio import purge_audio
from callbot.store.schema import audit_log, calls, daily_rollups, messages, web_sessions


@dataclass(frozen=True)
class PurgeReport:
    calls: int
    recordings: int
    sessions: int
    messages: int
    message_audio: int = 0


async def purge(engine: AsyncEngine, retention_days: int, now: datetime,
                recordings_dir: Path | None = None, recording_retention_days: int = 30,
                audit_retention_days: int = 365, message_audio_dir: Path | None = None,
                message_audio_days: int | None = 30) -> PurgeReport:
    """Delete what is older than the retention periods; return how much went.

    ``message_audio_days=None``: recording is off, every message's audio goes."""
    cutoff = now - timedelta(days=retention_days)
    async with engine.begin() as connection:
        old_calls = select(calls.c.id).where(calls.c.started_at < cutoff)
        doomed = (await connection.execute(
            select(func.count()).select_from(calls).where(calls.c.started_at < cutoff))).scalar_one()
        gone_messages = (await connection.execute(delete(messages).where(
            (messages.c.created_at < cutoff) | messages.c.call_id.in_(old_calls)))).rowcount
        await connection.execute(delete(calls).where(calls.c.started_at < cutoff))
        await connection.execute(delete(daily_rollups).where(
            daily_rollups.c.day < cutoff.date().isoformat()))
        expired = (await connection.execute(
            delete(web_sessions).where(web_sessions.c.expires_at < now))).rowcount
        await connection.execute(delete(audit_log).where(
            audit_log.c.at < now - timedelta(days=audit_retention_days)))
    if engine.dialect.name == "postgresql" and (doomed or gone_messages):
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM calls, turns, line_events, messages")
    removed = await asyncio.to_thread(_purge_recordings, recordings_dir,
                                      now - timedelta(days=recording_retention_days))
    heard = 0
    if message_audio_dir is not None:
        async with engine.connect() as connection:
            kept = set((await connection.execute(select(messages.c.id))).scalars())
        heard = await asyncio.to_thread(purge_audio, message_audio_dir, now,
                                        message_audio_days, kept)
    logger.info(f"purge: {doomed} call(s) before {cutoff:%Y-%m-%d}, {removed} recording(s), "
                f"{expired} expired session(s), {gone_messages} message(s), {heard} "
                "message audio file(s)")
    return PurgeReport(doomed, removed, expired, gone_messages, heard)


def _purge_recordings(directory: Path | None, cutoff: datetime) -> int:
    if directory is None or not directory.is_dir():
        return 0
    removed = 0
    for path in directory.rglob("*"):
        if path.is_file() and datetime.fromtimestamp(path.stat().st_mtime) < cutoff:
            path.unlink()
            removed += 1
    return removed
