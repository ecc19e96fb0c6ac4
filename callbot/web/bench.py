"""``callbot bench web``: dashboard page times with a large call log, SQLite and PostgreSQL.

Fills a fresh store (a temporary SQLite file; a throw-away PostgreSQL schema) with
``calls`` calls spread over the last 200 days (about 500 a day, a busy town hall), three
turns each, rolls up the 30 past days as the app does when it starts, then asks each page
``requests`` times through the real app and HTTP.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import insert, text

from callbot.config import Settings, StoreSettings
from callbot.store import queries, rollups
from callbot.store.accounts import add_user, open_session
from callbot.store.database import create_engine, engine_from_settings, migrate
from callbot.store.schema import calls, turns
from callbot.web.app import init_app
from callbot.web.auth import SESSION_COOKIE

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DAYS = 200
CHUNK = 5_000
INTENTS = ("opening_hours", "civil_status_certificate", "waste_collection", "school_canteen",
           "nlu_fallback", "request_human", "id_card_passport", "greet")
OUTCOMES = ("resolved",) * 5 + ("transferred",) * 3 + ("abandoned", "error")


def _rows(count: int, now: datetime, seed: int = 7) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    call_rows, turn_rows = [], []
    for _ in range(count):
        start = now - timedelta(days=rng.uniform(0, DAYS))
        start = start.replace(hour=rng.choice(range(8, 19)))
        duration = rng.lognormvariate(4.3, 0.6)
        call_id = uuid.UUID(int=rng.getrandbits(128)).hex
        call_rows.append({"id": call_id, "channel": rng.choice(("sip", "websocket")),
                          "started_at": start, "ended_at": start + timedelta(seconds=duration),
                          "day": start.date().isoformat(), "hour": start.hour,
                          "caller": f"{rng.getrandbits(64):016x}", "outcome": rng.choice(OUTCOMES),
                          "transfer_reason": None, "detail": "", "duration_sec": duration})
        for seq in range(1, 4):
            intent = rng.choice(INTENTS)
            turn_rows.append({"call_id": call_id, "seq": seq, "at": start + timedelta(seconds=seq * 15),
                              "caller_text": f"question {rng.randrange(300)} sur {intent}",
                              "intent": intent, "confidence": rng.random(),
                              "action": "clarify" if intent == "nlu_fallback" else "answer",
                              "kb_entry": intent, "kb_revision": "bench", "bot_text": "réponse",
                              "transfer_reason": None, "latency_ms": rng.uniform(200, 900),
                              "latencies": None})
    return call_rows, turn_rows


async def _fill(engine: object, count: int, now: datetime) -> float:
    started = time.perf_counter()
    call_rows, turn_rows = _rows(count, now)
    async with engine.begin() as connection:  # type: ignore[attr-defined]
        for i in range(0, len(call_rows), CHUNK):
            await connection.execute(insert(calls), call_rows[i:i + CHUNK])
        for i in range(0, len(turn_rows), CHUNK):
            await connection.execute(insert(turns), turn_rows[i:i + CHUNK])
        await connection.execute(text("ANALYZE"))  # fresh statistics, as in a live database
    return time.perf_counter() - started


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


async def _figures_with_and_without_rollups(engine: object, day: date,
                                            requests: int) -> dict[str, float]:
    """The 30-day figures from the rollups vs counted from the log itself, interleaved so
    both see the same machine load: the before/after of the rollups in one run."""
    first = day - timedelta(days=29)
    times: dict[str, list[float]] = {"rollups": [], "log": []}
    for _ in range(requests):
        for name in times:
            started = time.perf_counter()
            if name == "rollups":
                await queries.overview(engine, day, first, day)  # type: ignore[arg-type]
            else:
                async with engine.connect() as connection:  # type: ignore[attr-defined]
                    await rollups.count_days(connection, first, day)
            times[name].append((time.perf_counter() - started) * 1000)
    return {f"figures_30d_from_{name}_{stat}_ms": round(value, 1)
            for name, values in times.items()
            for stat, value in (("median", statistics.median(values)), ("p95", _p95(values)))}


async def _bench_one(settings: Settings, calls_count: int, requests: int) -> dict:
    engine = engine_from_settings(settings.store)
    await migrate(engine, settings.store.schema_name)
    now = datetime.now().replace(microsecond=0)
    fill_sec = await _fill(engine, calls_count, now)
    user = await add_user(engine, "bench", "bench-password", "ops")
    token, _ = await open_session(engine, user, 1)
    day = now.date()
    pages = {
        "dashboard_7d": "/",
        "dashboard_30d": f"/?from={day - timedelta(days=29)}&to={day}",
        "calls": "/calls",
        "calls_filtered": "/calls?outcome=transferred&intent=opening_hours",
        "not_understood_30d": "/not-understood",
        "metrics": "/metrics",
    }
    rollup_started = time.perf_counter()
    await rollups.prepare(engine, now.date())  # what the app does when it starts
    rollup_sec = time.perf_counter() - rollup_started
    ab = await _figures_with_and_without_rollups(engine, day, requests)
    server = TestServer(init_app(settings, engine))
    await server.start_server()
    figures: dict[str, float] = {}
    try:
        async with ClientSession(cookies={SESSION_COOKIE: token}) as client:
            async with client.get(server.make_url("/calls")) as listing:
                body = await listing.text()
            call_id = body.split('href="/calls/')[1].split('"')[0]
            pages["call_detail"] = f"/calls/{call_id}"
            for name, path in pages.items():
                times = []
                for _ in range(requests):
                    started = time.perf_counter()
                    async with client.get(server.make_url(path)) as response:
                        await response.read()
                        assert response.status == 200, (path, response.status)
                    times.append((time.perf_counter() - started) * 1000)
                figures[f"{name}_p95_ms"] = round(_p95(times), 1)
                figures[f"{name}_median_ms"] = round(statistics.median(times), 1)
    finally:
        await server.close()
        await engine.dispose()
    figures["fill_sec"] = round(fill_sec, 1)
    figures["rollup_30d_sec"] = round(rollup_sec, 2)
    figures.update(ab)
    figures["worst_page_p95_ms"] = max(v for k, v in figures.items()
                                       if k.endswith("_p95_ms") and not k.startswith("figures_"))
    return figures


async def bench_web(settings: Settings, calls_count: int, requests: int, backends: str) -> dict:
    results: dict[str, object] = {"calls": calls_count, "turns": calls_count * 3,
                                  "requests_per_page": requests}
    with tempfile.TemporaryDirectory(prefix="callbot-bench-") as scratch:
        for backend in [b.strip() for b in backends.split(",") if b.strip()]:
            if backend == "sqlite":
                store = StoreSettings(state_dir=Path(scratch) / "sqlite", pseudonym_key="bench")
            elif backend == "postgresql":
                store = StoreSettings(url=settings.store.url or PG_URL, pseudonym_key="bench",
                                      schema_name=f"callbot_bench_{uuid.uuid4().hex[:8]}",
                                      state_dir=Path(scratch) / "pg")
            else:
                raise ValueError(f"unknown backend {backend!r} (sqlite, postgresql)")
            bench_settings = settings.model_copy(update={"store": store})
            try:
                results[backend] = await _bench_one(bench_settings, calls_count, requests)
            finally:
                if store.schema_name:
                    cleanup = create_engine(store.url or PG_URL)
                    async with cleanup.begin() as connection:
                        await connection.execute(text(
                            f'DROP SCHEMA IF EXISTS "{store.schema_name}" CASCADE'))
                    await cleanup.dispose()
    return results
