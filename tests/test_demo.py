"""``callbot demo``: a week of calls in its own database, through the call log's own writes,
that the dashboard's queries read as a town hall's week (SQLite, as the demo writes it)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callbot.cli import build_parser
from callbot.config import Settings, StoreSettings
from callbot.demo import DEMO_FILE, demo_store
from callbot.demo_calls import UNCLEAR, caller_examples, fill
from callbot.kb.loader import load_knowledge_base
from callbot.store import queries
from callbot.store.database import engine_from_settings
from callbot.store.rollups import TEST_CHANNELS
from callbot.store.schema import calls, turns
from tests.conftest import DATA_DIR

SATURDAY_EVENING = datetime(2026, 12, 5, 19, 0)  # the week: Sunday 29 Nov to Saturday 5 Dec
HALF = 0.5  # of a town hall's volume (450 calls a weekday): the shares are the same, twice as fast


def demo_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=DATA_DIR, store=StoreSettings(state_dir=tmp_path / "state",
                                                           pseudonym_key="town-key"))


async def _calls_and_turns(store: StoreSettings) -> tuple[list[tuple], list[tuple]]:
    engine = engine_from_settings(store)
    try:
        async with engine.connect() as connection:
            found = (await connection.execute(select(
                calls.c.id, calls.c.channel, calls.c.started_at, calls.c.outcome,
                calls.c.duration_sec).order_by(calls.c.id))).all()
            said = (await connection.execute(select(
                turns.c.call_id, turns.c.seq, turns.c.caller_text, turns.c.intent,
                turns.c.action, turns.c.bot_text, turns.c.latency_ms)
                .order_by(turns.c.call_id, turns.c.seq))).all()
        return [tuple(r) for r in found], [tuple(r) for r in said]
    finally:
        await engine.dispose()


def test_demo_store_is_never_the_town_call_log(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path)
    store = demo_store(settings)
    assert store.database_url == f"sqlite+aiosqlite:///{tmp_path / 'state' / DEMO_FILE}"
    assert store.database_url != settings.store.database_url
    town = settings.model_copy(update={"store": settings.store.model_copy(
        update={"url": "postgresql+asyncpg://town@db/callbot", "schema_name": "town"})})
    assert demo_store(town).url.endswith(DEMO_FILE) and demo_store(town).schema_name is None
    named = demo_store(town, "sqlite+aiosqlite:///elsewhere.db")
    assert named.url == "sqlite+aiosqlite:///elsewhere.db"


async def test_a_demo_week_reads_as_a_town_halls_week(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path)
    store = demo_store(settings)
    report = await fill(store, settings, SATURDAY_EVENING, seed=3, scale=HALF,
                        password="demo password 1")
    engine = engine_from_settings(store)
    try:
        week = await queries.overview(engine, SATURDAY_EVENING.date(),
                                      SATURDAY_EVENING.date() - timedelta(days=6),
                                      SATURDAY_EVENING.date())
        assert not (await queries.calls_logged(engine))[1]  # no test call at all
    finally:
        await engine.dispose()
    per_day = {date.fromisoformat(d["day"]).strftime("%a"): d["total"] for d in week.trend[-7:]}
    assert per_day["Sun"] == 0 and 30 <= per_day["Sat"] <= 80, per_day  # half a town's
    assert all(190 <= per_day[d] <= 280 for d in ("Mon", "Tue", "Wed", "Thu", "Fri")), per_day
    assert week.period.calls == report.calls == sum(per_day.values())
    shares = {o: week.period.share(o) for o in ("resolved", "transferred", "abandoned")}
    assert 0.45 <= shares["resolved"] <= 0.62 and 0.27 <= shares["transferred"] <= 0.42, shares
    assert 0.05 <= shares["abandoned"] <= 0.2 and week.period.outcomes.get("error"), shares
    hours = week.hours
    assert min(hours[9], hours[10], hours[14], hours[15]) > max(hours[12], hours[13], hours[18])
    assert sum(hours[:7]) == 0
    top = [topic for topic, _ in week.topics[:3]]
    assert set(top) == {"civil_status_certificate", "id_card_passport", "opening_hours"}, top
    assert 20 <= week.period.median_duration_sec <= 120
    assert 200 <= week.period.p95_turn_latency_ms <= 1500

    found, said = await _calls_and_turns(store)
    assert not {channel for _, channel, *_ in found} & set(TEST_CHANNELS)
    assert all(start.date() >= date(2026, 11, 29) and start <= SATURDAY_EVENING
               for _, _, start, *_ in found)
    kb = load_knowledge_base(settings.knowledge_base_path)
    data = {*UNCLEAR, *(q for t in kb.topics.values() for q in t.questions),
            *(f"c'est pour {t.label}" for t in kb.topics.values()),
            *(e for examples in caller_examples(settings).values() for e in examples)}
    spoken = [text for _, _, text, *_ in said if text and not text.startswith("<")]
    assert sum(text in data for text in spoken) >= 0.99 * len(spoken)  # redaction aside
    assert len(set(spoken)) > 300 and {"clarify", "transfer", "hangup", "reprompt"} <= {
        action for *_, action, _, _ in said}
    with pytest.raises(ValueError, match="already holds"):  # never into a log with calls
        await fill(store, settings, SATURDAY_EVENING, seed=3)


async def test_the_same_seed_gives_the_same_calls(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path)
    first, second = (StoreSettings(state_dir=tmp_path / name, url=f"sqlite+aiosqlite:///"
                                   f"{tmp_path / name / 'demo.sqlite'}") for name in "ab")
    for store in (first, second):
        await fill(store, settings, SATURDAY_EVENING, seed=9, days=2, scale=0.1)
    a, b = await _calls_and_turns(first), await _calls_and_turns(second)
    assert a == b and len(a[0]) > 5
    other = StoreSettings(state_dir=tmp_path / "c",
                          url=f"sqlite+aiosqlite:///{tmp_path / 'c' / 'demo.sqlite'}")
    await fill(other, settings, SATURDAY_EVENING, seed=10, days=2, scale=0.1)
    assert (await _calls_and_turns(other))[0] != a[0]


def test_the_command_fills_the_demo_file_and_says_how_to_open_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = demo_settings(tmp_path)
    args = build_parser().parse_args(["demo", "--now", "2026-12-07T18:00", "--days", "1",
                                      "--scale", "0.1"])
    assert args.func(args, settings) == 0
    url = f"sqlite+aiosqlite:///{tmp_path / 'state' / DEMO_FILE}"
    out = capsys.readouterr().out
    assert f"CALLBOT_STORE__URL='{url}' callbot web" in out and "log in as 'demo'" in out
    assert args.func(args, settings) == 0  # its own file: made again, not added to
    found, _ = asyncio.run(_calls_and_turns(demo_store(settings)))
    assert 30 <= len(found) <= 70
    assert not (tmp_path / "state" / "callbot.db").exists()  # the town's log is untouched

