"""What the dashboard asks of the call log, in portable SQL (SQLite and PostgreSQL).

Days and hours are stored per call, so trends group on indexed columns; medians and
percentiles are one ``ORDER BY … OFFSET`` each rather than all rows into Python.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callbot.store.schema import calls, line_events, turns

TWO_MINUTES_SEC = 120.0
STALE_CALL_SEC = 2 * 3600  # a call "in progress" for longer died with its process
NOT_UNDERSTOOD_INTENTS = ("nlu_fallback", "out_of_scope")


@dataclass(frozen=True)
class CallFilter:
    first_day: date
    last_day: date
    outcome: str | None = None
    channel: str | None = None
    intent: str | None = None

    def where(self) -> list:
        clauses = [calls.c.day >= self.first_day.isoformat(),
                   calls.c.day <= self.last_day.isoformat()]
        if self.outcome == "in_progress":
            clauses.append(calls.c.outcome.is_(None))
        elif self.outcome:
            clauses.append(calls.c.outcome == self.outcome)
        if self.channel:
            clauses.append(calls.c.channel == self.channel)
        if self.intent:
            clauses.append(calls.c.id.in_(select(turns.c.call_id).where(
                turns.c.intent == self.intent, *_turns_in(self.first_day, self.last_day))))
        return clauses


@dataclass
class PeriodStats:
    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    median_duration_sec: float | None = None
    under_two_minutes: float | None = None  # share of ended calls
    p95_turn_latency_ms: float | None = None

    def share(self, outcome: str) -> float | None:
        return self.outcomes.get(outcome, 0) / self.calls if self.calls else None

    @property
    def contained(self) -> float | None:
        """Calls the bot settled on its own."""
        return self.share("resolved")


async def _percentile(connection: AsyncConnection, column: object, where: list,
                      q: float) -> float | None:
    count = (await connection.execute(
        select(func.count()).where(*where, column.isnot(None)))).scalar_one()  # type: ignore[attr-defined]
    if not count:
        return None
    offset = min(count - 1, int(round(q * (count - 1))))
    return (await connection.execute(select(column).where(*where, column.isnot(None))  # type: ignore[attr-defined]
                                     .order_by(column).limit(1).offset(offset))).scalar_one()


async def period_stats(engine: AsyncEngine, first_day: date, last_day: date) -> PeriodStats:
    where = CallFilter(first_day, last_day).where()
    turn_where = [turns.c.at >= datetime.combine(first_day, datetime.min.time()),
                  turns.c.at < datetime.combine(last_day + timedelta(days=1), datetime.min.time())]
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(calls.c.outcome, func.count()).where(*where).group_by(calls.c.outcome))
        outcomes = {outcome or "in_progress": n for outcome, n in rows}
        ended = sum(n for k, n in outcomes.items() if k != "in_progress")
        short = (await connection.execute(select(func.count()).where(
            *where, calls.c.duration_sec < TWO_MINUTES_SEC))).scalar_one()
        return PeriodStats(
            calls=sum(outcomes.values()), outcomes=outcomes,
            median_duration_sec=await _percentile(connection, calls.c.duration_sec, where, 0.5),
            under_two_minutes=short / ended if ended else None,
            p95_turn_latency_ms=await _percentile(connection, turns.c.latency_ms, turn_where, 0.95),
        )


async def calls_in_progress(engine: AsyncEngine, now: datetime) -> list[dict]:
    turn_count = (select(func.count()).where(turns.c.call_id == calls.c.id)
                  .correlate(calls).scalar_subquery())
    query = (select(calls.c.id, calls.c.channel, calls.c.started_at, turn_count.label("turns"))
             .where(calls.c.outcome.is_(None),
                    calls.c.started_at > now - timedelta(seconds=STALE_CALL_SEC))
             .order_by(calls.c.started_at.desc()).limit(100))
    async with engine.connect() as connection:
        return [dict(r._mapping) for r in await connection.execute(query)]


async def daily_trend(engine: AsyncEngine, last_day: date, days: int = 30) -> list[dict]:
    """One row per day (missing days included), with calls per outcome."""
    first = last_day - timedelta(days=days - 1)
    query = (select(calls.c.day, calls.c.outcome, func.count())
             .where(calls.c.day >= first.isoformat(), calls.c.day <= last_day.isoformat())
             .group_by(calls.c.day, calls.c.outcome))
    by_day: dict[str, dict[str, int]] = {
        (first + timedelta(days=i)).isoformat(): {} for i in range(days)}
    async with engine.connect() as connection:
        for day, outcome, n in await connection.execute(query):
            by_day.setdefault(day, {})[outcome or "in_progress"] = n
    return [{"day": day, "total": sum(c.values()), **c} for day, c in by_day.items()]


async def calls_per_hour(engine: AsyncEngine, first_day: date, last_day: date) -> list[int]:
    query = (select(calls.c.hour, func.count()).where(*CallFilter(first_day, last_day).where())
             .group_by(calls.c.hour))
    hours = [0] * 24
    async with engine.connect() as connection:
        for hour, n in await connection.execute(query):
            hours[hour] = n
    return hours


def _turns_in(first_day: date, last_day: date) -> list:
    return [turns.c.at >= datetime.combine(first_day, datetime.min.time()),
            turns.c.at < datetime.combine(last_day + timedelta(days=1), datetime.min.time())]


async def top_intents(engine: AsyncEngine, first_day: date, last_day: date,
                      limit: int = 12) -> list[tuple[str, int]]:
    query = (select(turns.c.intent, func.count().label("n"))
             .where(*_turns_in(first_day, last_day), turns.c.intent.isnot(None))
             .group_by(turns.c.intent).order_by(func.count().desc()).limit(limit))
    async with engine.connect() as connection:
        return [(intent, n) for intent, n in await connection.execute(query)]


async def not_understood(engine: AsyncEngine, first_day: date, last_day: date,
                         limit: int = 50) -> list[dict]:
    """Caller sentences that led to a fallback, a clarification or a transfer, grouped."""
    sentence = func.lower(turns.c.caller_text)
    query = (select(sentence.label("text"), func.count().label("n"),
                    func.max(turns.c.intent).label("intent"), func.max(turns.c.call_id).label("call_id"))
             .where(*_turns_in(first_day, last_day), turns.c.caller_text.isnot(None),
                    turns.c.caller_text != "", ~turns.c.caller_text.startswith("<"),
                    or_(turns.c.intent.in_(NOT_UNDERSTOOD_INTENTS),
                        turns.c.action.in_(("clarify", "transfer"))))
             .group_by(sentence).order_by(func.count().desc(), sentence).limit(limit))
    async with engine.connect() as connection:
        return [dict(r._mapping) for r in await connection.execute(query)]


def _call_list_query(where: CallFilter) -> Select:
    return select(calls).where(and_(*where.where())).order_by(calls.c.started_at.desc())


async def list_calls(engine: AsyncEngine, where: CallFilter, limit: int = 50,
                     offset: int = 0) -> list[dict]:
    async with engine.connect() as connection:
        rows = await connection.execute(_call_list_query(where).limit(limit).offset(offset))
        return [dict(r._mapping) for r in rows]


async def stream_calls(engine: AsyncEngine, where: CallFilter,
                       limit: int = 200_000) -> AsyncIterator[dict]:
    """All matching calls for the CSV export, without holding them all in memory."""
    async with engine.connect() as connection:
        result = await connection.stream(_call_list_query(where).limit(limit))
        async for row in result:
            yield dict(row._mapping)


async def call_detail(engine: AsyncEngine, call_id: str) -> tuple[dict, list[dict]] | None:
    """The call and its timeline: turns and line events in the order they happened."""
    async with engine.connect() as connection:
        call = (await connection.execute(calls.select().where(calls.c.id == call_id))).first()
        if call is None:
            return None
        steps = [{"kind": "turn", **dict(r._mapping)} for r in await connection.execute(
            turns.select().where(turns.c.call_id == call_id))]
        steps += [{"kind": "event", **dict(r._mapping)} for r in await connection.execute(
            line_events.select().where(line_events.c.call_id == call_id))]
    return dict(call._mapping), sorted(steps, key=lambda s: (s["seq"], s["at"]))


async def channels(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return [c for (c,) in await connection.execute(select(calls.c.channel).distinct())]


async def outcome_totals(engine: AsyncEngine) -> dict[str, int]:
    """Counters for /metrics, since the beginning of the log."""
    async with engine.connect() as connection:
        rows = await connection.execute(select(calls.c.outcome, func.count())
                                        .group_by(calls.c.outcome))
        return {outcome or "in_progress": n for outcome, n in rows}
