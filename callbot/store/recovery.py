"""Closing the calls a dead callbot process left open, as ``error``, when a process starts.

A call row without an outcome is either going on or was left by a process that died
(``kill -9``, a power cut) before it could write the end. At start-up, once the spools
are replayed, a process closes the open calls of the dead processes of its own host
(``node`` is ``host:pid``; a pid that no longer runs is dead) and, whoever took them, the
calls older than the call time limit allows: no live call is that old. Calls of live
processes, and of other hosts sharing the database, are left alone.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import func, insert, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection

from callbot.conversation.call_events import CallOutcome, LineEventKind
from callbot.store.rollups import forget
from callbot.store.schema import calls, line_events, turns

DEAD_PROCESS_DETAIL = "process_died"


def this_node() -> str:
    """``host:pid`` of this process, stored with every call it takes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead_node(node: str | None, own_node: str) -> bool:
    """Whether ``node`` is another process of this host that no longer runs."""
    if not node or node == own_node:
        return False
    host, _, pid = node.rpartition(":")
    if host != own_node.rpartition(":")[0] or not pid.isdigit():
        return False  # another host: only the age rule applies to it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


async def _last_activity(connection: AsyncConnection, call_id: str) -> tuple[datetime | None, int]:
    """When the call was last heard of, and the highest record number it used."""
    activity = union_all(
        select(turns.c.at, turns.c.seq).where(turns.c.call_id == call_id),
        select(line_events.c.at, line_events.c.seq).where(line_events.c.call_id == call_id),
    ).subquery()
    row = (await connection.execute(select(func.max(activity.c.at), func.max(activity.c.seq)))).one()
    return row[0], row[1] or 0


async def close_dead_calls(connection: AsyncConnection, own_node: str,
                           stale_before: datetime | None = None) -> list[str]:
    """Close as ``error`` the open calls of dead processes (and stale ones); their ids."""
    rows = (await connection.execute(
        select(calls.c.id, calls.c.node, calls.c.started_at).where(calls.c.outcome.is_(None))
    )).all()
    closed, days = [], set()
    for call_id, node, started_at in rows:
        stale = stale_before is not None and started_at < stale_before
        if not (stale or is_dead_node(node, own_node)):
            continue
        last, seq = await _last_activity(connection, call_id)
        ended_at = max(last or started_at, started_at)
        detail = f"{DEAD_PROCESS_DETAIL}: {node or 'unknown process'} ended without closing it"
        done = await connection.execute(
            update(calls).where(calls.c.id == call_id, calls.c.outcome.is_(None)).values(
                ended_at=ended_at, outcome=str(CallOutcome.ERROR), detail=detail[:200],
                duration_sec=(ended_at - started_at).total_seconds()))
        if done.rowcount != 1:  # another process closed it first
            continue
        await connection.execute(insert(line_events).values(
            call_id=call_id, seq=seq + 1, at=ended_at, kind=str(LineEventKind.ERROR),
            detail=detail))
        closed.append(call_id)
        days.add(started_at.date().isoformat())
    await forget(connection, days)  # a past day's figures now count these calls as errors
    return closed
