"""Writing call-log records in one transaction; replaying the same records is harmless."""

from __future__ import annotations

from loguru import logger
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from callbot.store.records import Record, parse_time
from callbot.store.rollups import forget
from callbot.store.rollups import insert_ignoring_duplicates as _insert_ignoring_duplicates
from callbot.store.schema import calls, line_events, turns

_TURN_FIELDS = ("caller_text", "intent", "confidence", "action", "kb_entry", "kb_revision",
                "bot_text", "transfer_reason", "latency_ms", "latencies")


async def apply_records(connection: AsyncConnection, records: list[Record]) -> None:
    """Insert or update, in order; duplicates from a replay are ignored. The rollups of
    the days written to are dropped (only past days have any: a replay, a late close)."""
    days: set[str] = set()
    for record in records:
        at = parse_time(record["at"])
        kind = record["type"]
        days.add(at.date().isoformat())
        if kind == "call_opened":
            await connection.execute(_insert_ignoring_duplicates(connection, calls).values(
                id=record["call_id"], channel=record["channel"], started_at=at,
                day=at.date().isoformat(), hour=at.hour, caller=record["caller"],
                node=record.get("node")))
        elif kind == "turn":
            await connection.execute(_insert_ignoring_duplicates(connection, turns).values(
                call_id=record["call_id"], seq=record["seq"], at=at,
                **{name: record.get(name) for name in _TURN_FIELDS}))
        elif kind == "line_event":
            await connection.execute(_insert_ignoring_duplicates(connection, line_events).values(
                call_id=record["call_id"], seq=record["seq"], at=at, kind=record["kind"],
                detail=record["detail"]))
        elif kind == "call_closed":
            started = (await connection.execute(
                calls.select().with_only_columns(calls.c.started_at)
                .where(calls.c.id == record["call_id"]))).scalar()
            if started:
                days.add(started.date().isoformat())
            closed = await connection.execute(update(calls).where(
                calls.c.id == record["call_id"]).values(
                ended_at=at, outcome=record["outcome"], transfer_reason=record["transfer_reason"],
                detail=record["detail"],
                duration_sec=(at - started).total_seconds() if started else None))
            if closed.rowcount == 0:  # a close before its open is a lost call: say so (issue 7)
                logger.error(f"call log: close of call {record['call_id']} that was never "
                             "opened; the call is missing from the log")
        else:
            raise ValueError(f"unknown call-log record type {kind!r}")
    await forget(connection, days)
