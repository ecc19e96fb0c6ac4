"""Writing call-log records in one transaction; replaying the same records is harmless."""

from __future__ import annotations

from sqlalchemy import Insert, Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from callbot.store.records import Record, parse_time
from callbot.store.schema import calls, line_events, turns

_TURN_FIELDS = ("caller_text", "intent", "confidence", "action", "kb_entry", "kb_revision",
                "bot_text", "transfer_reason", "latency_ms", "latencies")


def _insert_ignoring_duplicates(connection: AsyncConnection, table: Table) -> Insert:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


async def apply_records(connection: AsyncConnection, records: list[Record]) -> None:
    """Insert or update, in order; duplicates from a replay are ignored."""
    for record in records:
        at = parse_time(record["at"])
        kind = record["type"]
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
            await connection.execute(update(calls).where(calls.c.id == record["call_id"]).values(
                ended_at=at, outcome=record["outcome"], transfer_reason=record["transfer_reason"],
                detail=record["detail"],
                duration_sec=(at - started).total_seconds() if started else None))
        else:
            raise ValueError(f"unknown call-log record type {kind!r}")
