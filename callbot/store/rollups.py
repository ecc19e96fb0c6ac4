"""Daily rollups: the dashboard's counts of a day, computed once the day is over.

A period's figures then come from a few hundred rows per day instead of every call and
turn. Kinds of rows: ``outcome``, ``hour``, ``short`` (calls under two minutes),
``duration`` (1-second histogram), ``latency`` (10 ms histogram of turn latencies),
``intent``; a ``done`` row marks a day as rolled up. Today is always counted live from
the call log with the same queries. A late write to a past day (a spool replayed, a call
closed after midnight) deletes that day's rollup, which the next page view rebuilds.
Only phone calls are counted: test calls (``TEST_CHANNELS``) would skew the town's figures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Integer, Select, and_, cast, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callbot.store.schema import calls, daily_rollups, turns

TWO_MINUTES_SEC = 120.0
DURATION_BUCKET_SEC = 1.0
LATENCY_BUCKET_MS = 10.0
DONE = "done"
#: The key of a day's ``done`` row: how its rows were counted. A day rolled up by an earlier
#: counting (with the test calls, before issue 14) is counted again.
COUNTING = "phone-calls"
#: Channels of test calls: ``callbot chat --record`` and the « Essayer le robot » page (its
#: text and its voice). Left out of the dashboard's figures, listed apart in the call list.
TEST_CHANNELS: tuple[str, ...] = ("chat", "browser")

Row = tuple[str, str, str, int]  # day, kind, key, n


class Counts(defaultdict[str, Counter]):
    """kind → key → n, summed over the days added."""

    def __init__(self, rows: Iterable[Row] = ()) -> None:
        super().__init__(Counter)
        self.add(rows)

    def add(self, rows: Iterable[Row]) -> Counts:
        for _day, kind, key, n in rows:
            if kind != DONE:
                self[kind][key] += n
        return self

    def percentile(self, kind: str, bucket: float, q: float) -> float | None:
        """Nearest-rank ``q``-quantile of a histogram, as the middle of its bucket."""
        histogram = sorted((int(k), n) for k, n in self[kind].items())
        total = sum(n for _, n in histogram)
        if not total:
            return None
        rank = min(total - 1, int(round(q * (total - 1))))
        seen = 0
        for key, n in histogram:
            seen += n
            if seen > rank:
                return (key + 0.5) * bucket
        return None  # unreachable: rank < total


def insert_ignoring_duplicates(connection: AsyncConnection, table: object) -> object:
    """``INSERT … ON CONFLICT DO NOTHING`` on either database (replays, racing fills)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()  # type: ignore[arg-type]


def _bucket(connection: AsyncConnection, column: object, width: float) -> object:
    """The histogram bucket of a non-negative value (CAST rounds on PostgreSQL: floor it)."""
    scaled = column / width  # type: ignore[operator]
    if connection.dialect.name == "postgresql":
        scaled = func.floor(scaled)
    return cast(scaled, Integer)


def _day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return (datetime.combine(first, datetime.min.time()),
            datetime.combine(last + timedelta(days=1), datetime.min.time()))


def is_test_call(channel: ColumnElement) -> ColumnElement:
    """The one test of "a test call", for the rollups and the call list alike."""
    return channel.in_(TEST_CHANNELS)


def _test_calls_of(first: date, last: date) -> Select:
    """Ids of the test calls whose turns may fall in these days (a call started the evening
    before runs past midnight): few, so ``NOT IN`` them stays cheap."""
    return select(calls.c.id).where(is_test_call(calls.c.channel),
                                    calls.c.day >= (first - timedelta(days=1)).isoformat(),
                                    calls.c.day <= last.isoformat())


async def count_days(connection: AsyncConnection, first: date, last: date) -> list[Row]:
    """The rollup rows of these days, counted from the call log itself (phone calls)."""
    in_days = and_(calls.c.day >= first.isoformat(), calls.c.day <= last.isoformat(),
                   ~is_test_call(calls.c.channel))
    start, end = _day_bounds(first, last)
    turn_day = func.date(turns.c.at)
    in_turns = and_(turns.c.at >= start, turns.c.at < end,
                    turns.c.call_id.notin_(_test_calls_of(first, last)))
    queries = {
        "outcome": select(calls.c.day, calls.c.outcome, func.count()).where(in_days)
        .group_by(calls.c.day, calls.c.outcome),
        "hour": select(calls.c.day, calls.c.hour, func.count()).where(in_days)
        .group_by(calls.c.day, calls.c.hour),
        "short": select(calls.c.day, literal(""), func.count()).where(
            in_days, calls.c.duration_sec < TWO_MINUTES_SEC).group_by(calls.c.day),
        "duration": _histogram(connection, calls.c.day, calls.c.duration_sec,
                               DURATION_BUCKET_SEC, in_days),
        "latency": _histogram(connection, turn_day, turns.c.latency_ms, LATENCY_BUCKET_MS,
                              in_turns),
        "intent": select(turn_day, turns.c.intent, func.count()).where(
            in_turns, turns.c.intent.isnot(None)).group_by(turn_day, turns.c.intent),
    }
    rows: list[Row] = []
    for kind, query in queries.items():
        for day, key, n in await connection.execute(query):
            label = str(key) if key is not None else "in_progress" if kind == "outcome" else ""
            rows.append((str(day)[:10], kind, label, n))
    return rows


def _histogram(connection: AsyncConnection, day: object, column: object, width: float,
               where: object) -> object:
    bucket = _bucket(connection, column, width)
    return (select(day, bucket, func.count()).where(where, column.isnot(None))  # type: ignore[attr-defined]
            .group_by(day, bucket))


def _split(first: date, last: date, today: date) -> tuple[date | None, bool, date | None]:
    """Of ``first``..``last``: the last day that is over (or None), whether today is in,
    and the first later day (a fixed clock may log calls "tomorrow"; or None)."""
    closed_last = min(last, today - timedelta(days=1))
    later = max(first, today + timedelta(days=1))
    return (closed_last if first <= closed_last else None, first <= today <= last,
            later if later <= last else None)


async def period_rows(connection: AsyncConnection, first: date, last: date, today: date,
                      today_rows: list[Row]) -> list[Row]:
    """Counts of ``first``..``last`` summed in the database for the days that are over
    (rolled up now if missing), plus today's rows (counted once by the caller)."""
    closed_last, with_today, later = _split(first, last, today)
    rows: list[Row] = []
    if closed_last:
        await _ensure(connection, first, closed_last)
        query = (select(daily_rollups.c.kind, daily_rollups.c.key, func.sum(daily_rollups.c.n))
                 .where(*_stored(first, closed_last), daily_rollups.c.kind != DONE)
                 .group_by(daily_rollups.c.kind, daily_rollups.c.key))
        rows += [("", kind, key, int(n)) for kind, key, n in await connection.execute(query)]
    if with_today:
        rows += today_rows
    if later:
        rows += await count_days(connection, later, last)
    return rows


async def day_rows(connection: AsyncConnection, first: date, last: date, today: date,
                   kind: str, today_rows: list[Row]) -> list[Row]:
    """The ``kind`` rows of each day of ``first``..``last`` (the trend chart)."""
    closed_last, with_today, later = _split(first, last, today)
    rows: list[Row] = []
    if closed_last:
        await _ensure(connection, first, closed_last)
        query = daily_rollups.select().where(*_stored(first, closed_last),
                                             daily_rollups.c.kind == kind)
        rows += [tuple(r) for r in await connection.execute(query)]  # type: ignore[misc]
    if with_today:
        rows += today_rows
    if later:
        rows += await count_days(connection, later, last)
    return [r for r in rows if r[1] == kind]


def _stored(first: date, last: date) -> list:
    return [daily_rollups.c.day >= first.isoformat(), daily_rollups.c.day <= last.isoformat()]


async def _ensure(connection: AsyncConnection, first: date, last: date) -> None:
    """Roll up the days not done yet by this counting; rows of an older one go first."""
    done = {day for (day,) in await connection.execute(select(daily_rollups.c.day).where(
        daily_rollups.c.kind == DONE, daily_rollups.c.key == COUNTING,
        daily_rollups.c.day >= first.isoformat(), daily_rollups.c.day <= last.isoformat()))}
    missing = [d for d in _days(first, last) if d.isoformat() not in done]
    if not missing:
        return
    counted = await count_days(connection, missing[0], missing[-1])
    wanted = {d.isoformat() for d in missing}
    await forget(connection, wanted)
    rows = [r for r in counted if r[0] in wanted] + [(d, DONE, COUNTING, 0)
                                                     for d in sorted(wanted)]
    await connection.execute(insert_ignoring_duplicates(connection, daily_rollups), [
        {"day": day, "kind": kind, "key": key, "n": n} for day, kind, key, n in rows])
    await connection.commit()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


async def forget(connection: AsyncConnection, days: set[str]) -> None:
    """A write touched these days: their rollups, if any, are out of date."""
    if days:
        await connection.execute(delete(daily_rollups).where(daily_rollups.c.day.in_(days)))


def by_day(rows: Iterable[Row], kind: str) -> dict[str, Counter]:
    """One counter per day, for the trend chart."""
    days: dict[str, Counter] = defaultdict(Counter)
    for day, row_kind, key, n in rows:
        if row_kind == kind:
            days[day][key] += n
    return days


async def prepare(engine: AsyncEngine, today: date, days: int = 30) -> None:
    """Roll up the last ``days`` days now, so the first dashboard view does not wait."""
    async with engine.connect() as connection:
        await _ensure(connection, today - timedelta(days=days), today - timedelta(days=1))
