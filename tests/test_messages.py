"""Messages left out of hours, on SQLite and PostgreSQL: stored redacted, listed for ops with
their callback number and mail status, ticked off with the CSRF token, purged with the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.config import StoreSettings
from callbot.store.accounts import recent_audit
from callbot.store.database import engine_from_settings, migrate
from callbot.store.messages import DONE_SHOWN, add_message, blocking, mark_done, open_messages
from callbot.store.retention import purge
from callbot.store.schema import calls
from tests.test_store import store_settings  # noqa: F401
from tests.test_web import client, engine, login, page_csrf, small_data, web_settings  # noqa: F401

CALLBACK = "06 12 34 56 78"
NOW = datetime(2026, 12, 1, 19, 0)
EMPTY = ("Aucun message. Quand un service est fermé, le robot propose à l'appelant de laisser "
         "un message ; il arrive ici et par e-mail au service.")


async def leave(engine: AsyncEngine, text: str = "je voudrais un acte de naissance",  # noqa: F811
                at: datetime = NOW, call_id: str = "call-1", *, service: str = "etat_civil",
                wants_callback: bool = True, mailed_to: str = "etat-civil@villebrune.fr",
                mail_error: str = "") -> int:
    """A message as the out-of-hours dialogue leaves it: mailed, with a callback number."""
    return await add_message(engine, call_id, service, text, CALLBACK, wants_callback,
                             mailed_to, mail_error, at)


@pytest.fixture
async def store(store_settings: StoreSettings) -> AsyncIterator[AsyncEngine]:  # noqa: F811
    """A migrated store without accounts: the storage tests need no (slow) argon2 hashes."""
    opened = engine_from_settings(store_settings)
    await migrate(opened, store_settings.schema_name)
    yield opened
    await opened.dispose()


async def add_call(engine: AsyncEngine, call_id: str, started_at: datetime) -> None:  # noqa: F811
    async with engine.begin() as connection:
        await connection.execute(insert(calls).values(
            id=call_id, channel="sip", started_at=started_at, day=started_at.date().isoformat(),
            hour=started_at.hour))


async def test_the_list_shows_messages_to_ops_redacted(client: TestClient,  # noqa: F811
                                                       engine: AsyncEngine) -> None:  # noqa: F811
    await login(client, "ops")
    html = await (await client.get("/messages")).text()
    assert EMPTY in html and "<table>" not in html  # the empty state says what comes here
    await leave(engine, "rappelez-moi au 07 98 76 54 32 ou jean.dupont@example.fr")
    await leave(engine, "le ramassage n'est pas passé", NOW + timedelta(minutes=5), "call-2",
                service="gone_service", wants_callback=False, mailed_to="",
                mail_error="le serveur SMTP a refusé")
    page = await client.get("/messages")
    html = await page.text()
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    assert '<a href="/messages">Messages</a>' in html  # the nav link
    assert "Le service état civil" in html and "gone_service" in html
    assert "[phone]" in html and "[email]" in html
    assert "07 98 76 54 32" not in html and "dupont" not in html
    assert f"rappeler au <b>{CALLBACK}</b>" in html and html.count("rappeler au") == 1
    assert "envoyé à etat-civil@villebrune.fr" in html
    assert "non envoyé : le serveur SMTP a refusé" in html
    assert 'href="/calls/call-1"' in html and "2 à traiter" in html
    assert html.index("ramassage") < html.index("[phone]")  # newest first
    assert EMPTY not in html
    client.session.cookie_jar.clear()
    anonymous = await client.get("/messages", headers={"Accept": "text/html"},
                                 allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login")


async def test_ticking_off_needs_the_csrf_token_and_names_the_agent(
        client: TestClient, engine: AsyncEngine) -> None:  # noqa: F811
    message_id = await leave(engine)
    await login(client, "ops")
    token = await page_csrf(client, "/messages")
    path = f"/messages/{message_id}/done"
    assert (await client.post(path, data={}, allow_redirects=False)).status == 403
    assert (await client.post(path, data={"csrf_token": token[:-2] + "xx"},
                              allow_redirects=False)).status == 403
    assert not (await open_messages(engine))[0].done
    done = await client.post(path, data={"csrf_token": token}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/messages"
    row = (await open_messages(engine))[0]
    assert row.done and row.done_by == "ops"
    html = await (await client.get("/messages")).text()
    assert 'class="done"' in html and "traité par ops le" in html
    assert "Aucun message à traiter" in html and f'action="{path}"' not in html
    entry = (await recent_audit(engine, 1))[0]
    assert (entry["username"], entry["action"], entry["target"]) == (
        "ops", "message.done", f"message {message_id}")
    assert CALLBACK not in str(entry)
    await login(client, "admin")  # a second tick keeps the first agent's name
    await client.post(path, data={"csrf_token": await page_csrf(client, "/messages")})
    assert (await open_messages(engine))[0].done_by == "ops"
    token = await page_csrf(client, "/messages")
    for beyond in ("9999999999", "9" * 5000):  # past the id column; past Python's int()
        missing = await client.post(f"/messages/{beyond}/done", data={"csrf_token": token},
                                    allow_redirects=False)
        assert missing.status == 404


async def test_open_ones_first_newest_first_then_the_last_done(store: AsyncEngine) -> None:
    ids = [await leave(store, f"message {n}", NOW + timedelta(minutes=n))
           for n in range(DONE_SHOWN + 4)]
    for n, message_id in enumerate(ids[:DONE_SHOWN + 1]):
        assert await mark_done(store, message_id, "ops", NOW + timedelta(hours=1, minutes=n))
    assert not await mark_done(store, ids[0], "editor")  # done already
    assert not await mark_done(store, 10**6, "ops")  # no such message
    rows = await open_messages(store)
    assert [r.id for r in rows[:3]] == ids[:DONE_SHOWN:-1]  # the 3 open ones, newest first
    assert len(rows) == 3 + DONE_SHOWN and rows[3].id == ids[DONE_SHOWN]  # last done first
    assert [r.id for r in await open_messages(store, limit=1)][:2] == [ids[-1], ids[DONE_SHOWN]]
    assert CALLBACK not in repr(rows[0])  # a row that reaches a log line keeps the number out


async def test_a_message_needs_no_call_row_and_can_be_left_from_a_thread(
        store: AsyncEngine, store_settings: StoreSettings) -> None:  # noqa: F811
    """The call log writes the call later (its queue, its spool): no foreign key to trip on."""
    message_id = await asyncio.to_thread(blocking, store_settings, lambda e: add_message(
        e, "not-written-yet", "mairie", "mon numéro 0612345678", "", False, "", "", NOW))
    (row,) = await open_messages(store)
    assert (row.id, row.call_id, row.text, row.callback) == (
        message_id, "not-written-yet", "mon numéro [phone]", "")


async def test_purge_deletes_old_messages_and_those_of_purged_calls(store: AsyncEngine) -> None:
    await add_call(store, "old-call", NOW - timedelta(days=100))
    await add_call(store, "recent-call", NOW - timedelta(days=1))
    old = await leave(store, "vieux", NOW - timedelta(days=95), "recent-call")
    await mark_done(store, old, "ops")
    await leave(store, "appel purgé", NOW - timedelta(days=1), "old-call")
    kept = await leave(store, "récent", NOW - timedelta(days=1), "recent-call")
    report = await purge(store, 90, NOW)
    assert report.messages == 2 and report.calls == 1
    assert [r.id for r in await open_messages(store)] == [kept]
    assert (await purge(store, 90, NOW)).messages == 0

