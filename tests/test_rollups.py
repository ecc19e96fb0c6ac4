"""Daily rollups on both databases: the dashboard's figures agree with the call log counted
row by row, a late write to a past day is seen, and the purge takes rollups with the calls."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.store.queries import overview
from callbot.store.retention import purge
from callbot.store.schema import calls, daily_rollups, turns
from callbot.store.writes import apply_records
from callbot.web.bench import _rows
from tests.test_store import engine, store_settings  # noqa: F401

NOW = datetime(2026, 12, 1, 20, 0)


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def test_rollups_match_the_log_and_follow_late_writes(engine: AsyncEngine) -> None:  # noqa: F811
    call_rows, turn_rows = _rows(1_500, NOW)
    async with engine.begin() as connection:
        await connection.execute(insert(calls), call_rows)
        await connection.execute(insert(turns), turn_rows)
    today, first = NOW.date(), NOW.date() - timedelta(days=29)
    figures = await overview(engine, today, first, today)

    mine = [c for c in call_rows if first.isoformat() <= c["day"] <= today.isoformat()]
    ids = {c["id"] for c in mine}
    assert figures.period.calls == len(mine)
    assert figures.period.outcomes == dict(Counter(c["outcome"] for c in mine))
    durations = [c["duration_sec"] for c in mine]
    assert abs(figures.period.median_duration_sec - statistics.median(durations)) <= 1.0
    assert figures.period.under_two_minutes == sum(d < 120 for d in durations) / len(mine)
    assert figures.hours == [sum(c["hour"] == h for c in mine) for h in range(24)]
    latencies = [t["latency_ms"] for t in turn_rows if t["call_id"] in ids]
    assert abs(figures.period.p95_turn_latency_ms - _nearest_rank(latencies, 0.95)) <= 10.0
    assert dict(figures.intents) == dict(Counter(t["intent"] for t in turn_rows
                                                 if t["call_id"] in ids))
    assert [d["total"] for d in figures.trend] == [
        sum(c["day"] == d["day"] for c in mine) for d in figures.trend]
    assert figures.today.calls == sum(c["day"] == today.isoformat() for c in mine)

    # The past days are rolled up now; a call written late to one of them is still counted.
    yesterday = NOW - timedelta(days=1)
    async with engine.begin() as connection:
        assert (await connection.execute(select(func.count()).where(
            daily_rollups.c.kind == "done"))).scalar_one() == 29
        await apply_records(connection, [
            {"type": "call_opened", "call_id": "late", "seq": 1, "at": yesterday.isoformat(),
             "channel": "sip", "caller": "x"},
            {"type": "call_closed", "call_id": "late", "seq": 2,
             "at": (yesterday + timedelta(seconds=30)).isoformat(), "outcome": "resolved",
             "transfer_reason": None, "detail": ""}])
    again = await overview(engine, today, first, today)
    assert again.period.calls == figures.period.calls + 1
    assert again.period.outcomes["resolved"] == figures.period.outcomes["resolved"] + 1

    await purge(engine, 10, NOW)
    async with engine.connect() as connection:
        left = (await connection.execute(select(func.min(daily_rollups.c.day)))).scalar_one()
    assert left >= (NOW - timedelta(days=10)).date().isoformat()
