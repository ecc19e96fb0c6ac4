"""Campaigns in the store, on SQLite and on the real PostgreSQL: created from a list, claimed
with a lock per person across campaigns, results and callback tasks written together, the
do-not-call list by pseudonym, and a retention purge that really deletes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.campaigns.contacts_import import ImportedContact
from callbot.campaigns.model import CampaignKind, ContactStatus, Result
from callbot.campaigns.scheduler import Callback, Contact, DoNotCall, Save
from callbot.config import StoreSettings
from callbot.privacy import pseudonymise
from callbot.store import campaign_progress as progress
from callbot.store.campaign_schema import (
    campaign_attempts,
    campaign_calls,
    campaign_contacts,
    campaigns,
    do_not_call,
)
from callbot.store.campaigns import (
    NewCampaign,
    add_do_not_call,
    create_campaign,
    get_campaign,
    load_contacts,
    on_do_not_call,
    purge_campaigns,
    status_counts,
)
from callbot.store.schema import messages
from tests.test_messages import store  # noqa: F401  (a migrated store of each kind)
from tests.test_store import store_settings  # noqa: F401

KEY = b"test-key"
NOW = datetime(2026, 7, 1, 10, 0)
S = ContactStatus


def people(n: int, first: int = 0) -> list[ImportedContact]:
    """``n`` distinct French mobiles, named, with one field."""
    return [ImportedContact(i + 2, f"Personne {i}", f"+336{10_000_000 + i:08d}", {"quartier": "Nord"})
            for i in range(first, first + n)]


async def campaign_with(engine: AsyncEngine, contacts: list[ImportedContact],
                        kind: CampaignKind = CampaignKind.HEATWAVE, **spec: object) -> int:
    """A stored campaign of ``contacts`` (heatwave check, the town's number, default plan)."""
    values: dict[str, object] = {"name": "Canicule juillet", "kind": kind, "town": "Villebrune",
                                 "message": "Bonjour {nom}.", "question": "",
                                 "callback_number": "+33240123400", "pacing_sec": 0.0, **spec}
    return await create_campaign(engine, NewCampaign(**values), contacts, ("quartier",), KEY, NOW)


async def count(engine: AsyncEngine, table: object, *where: object) -> int:
    query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
    async with engine.connect() as connection:
        return (await connection.execute(query)).scalar_one()


async def test_a_campaign_is_stored_with_its_contacts_pseudonymised(store: AsyncEngine) -> None:  # noqa: F811
    campaign_id = await campaign_with(store, people(3))
    row = await get_campaign(store, campaign_id)
    assert row is not None and row.kind is CampaignKind.HEATWAVE and row.fields == ("quartier",)
    assert row.caller_id == "+33240123400" and row.expires_at == NOW + timedelta(days=30)
    assert row.plan.max_attempts == 3 and row.plan.callback_when_interrupted
    contacts, persons = await load_contacts(store, campaign_id)
    assert [c.status for c in contacts] == [S.PENDING] * 3
    assert contacts[0].phone_key == pseudonymise("06 10 00 00 00", KEY)  # inbound's pseudonym
    assert persons[contacts[0].id].fields == {"quartier": "Nord"}
    assert "+33" not in repr(persons[contacts[0].id])
    assert await status_counts(store, campaign_id) == {"pending": 3}


async def test_one_person_is_in_one_call_at_a_time_across_campaigns(store: AsyncEngine) -> None:  # noqa: F811
    first, second = await campaign_with(store, people(2)), await campaign_with(store, people(1))
    (mine, _), _ = await load_contacts(store, first)
    (theirs,), _ = await load_contacts(store, second)
    assert mine.phone_key == theirs.phone_key  # the same person on both lists
    dialing = Contact(mine.id, mine.phone_key, S.DIALING, attempts=1)
    assert await progress.claim(store, first, dialing, NOW)
    assert not await progress.claim(store, second, Contact(theirs.id, theirs.phone_key, S.DIALING, 1), NOW)
    assert not await progress.claim(store, first, dialing, NOW)  # claimed once only
    facts = await progress.facts(store, second)
    assert facts.busy_elsewhere == {mine.phone_key} and facts.outbound_elsewhere == 1
    contacts, _ = await load_contacts(store, first)
    assert contacts[0].status is S.DIALING and contacts[0].attempts == 1
    assert await count(store, campaign_attempts, campaign_attempts.c.contact_id == mine.id) == 1


async def test_a_result_closes_the_attempt_frees_the_person_and_files_the_callback(
        store: AsyncEngine) -> None:  # noqa: F811
    campaign_id = await campaign_with(store, people(1))
    campaign = await get_campaign(store, campaign_id)
    (contact,), persons = await load_contacts(store, campaign_id)
    await progress.claim(store, campaign_id, Contact(contact.id, contact.phone_key, S.DIALING, 1), NOW)
    answered = Contact(contact.id, contact.phone_key, S.IN_CALL, 1)
    await progress.apply(store, campaign, [Save(answered)], persons, NOW + timedelta(seconds=10))
    done = Contact(contact.id, contact.phone_key, S.CALLBACK, 1, last_result=Result.CALLBACK)
    later = NOW + timedelta(minutes=2)
    await progress.apply(store, campaign, [Save(done, Result.CALLBACK), Callback(contact.id, Result.CALLBACK),
                                           DoNotCall("other-key")], persons, later,
                         "help: je suis tombee au 06 12 34 56 78")
    async with store.connect() as connection:
        attempt = (await connection.execute(select(campaign_attempts))).one()
        task = (await connection.execute(select(messages))).one()
        expires = await connection.scalar(select(campaigns.c.expires_at))
    assert attempt.result == "callback" and attempt.ended_at == later and attempt.answered_at
    assert "[phone]" in attempt.detail and "06 12" not in attempt.detail  # redacted
    assert task.call_id == f"campaign-{campaign_id}-{contact.id}-1" and task.service == "ccas"
    assert task.callback == "+33610000000" and task.wants_callback
    assert task.text.startswith("Campagne « Canicule juillet » : Personne 0 a besoin d'aide")
    assert await count(store, campaign_calls) == 0
    assert expires == later + timedelta(days=30)  # retention counts from the last call
    assert await on_do_not_call(store, "other-key")


async def test_the_do_not_call_list_keeps_pseudonyms_once(store: AsyncEngine) -> None:  # noqa: F811
    campaign_id = await campaign_with(store, people(2))
    key = pseudonymise("+33610000001", KEY)
    assert await add_do_not_call(store, key, "cli:agent", NOW)
    assert not await add_do_not_call(store, key, "campaign 1", NOW)
    assert (await progress.facts(store, campaign_id)).do_not_call == {key}
    async with store.connect() as connection:
        stored = (await connection.execute(select(do_not_call))).one()
    assert stored.phone_key == key and "0610000001" not in str(tuple(stored))


async def test_the_purge_really_deletes_lists_results_and_callbacks(
        store: AsyncEngine, store_settings: StoreSettings) -> None:  # noqa: F811
    old = await campaign_with(store, [ImportedContact(2, "Zorglub Quatorze", "+33612345678",
                                                      {"quartier": "Zorglubville"})], retention_days=7)
    kept = await campaign_with(store, people(2), retention_days=60)
    campaign = await get_campaign(store, old)
    (contact,), persons = await load_contacts(store, old)
    await progress.claim(store, old, Contact(contact.id, contact.phone_key, S.DIALING, 1), NOW)
    await progress.apply(store, campaign, [Save(Contact(contact.id, contact.phone_key, S.CALLBACK, 1),
                                                Result.CALLBACK), Callback(contact.id, Result.CALLBACK)],
                         persons, NOW, "no: non")
    await add_do_not_call(store, contact.phone_key, "campaign", NOW)
    assert await purge_campaigns(store, NOW + timedelta(days=6)) == 0
    assert await purge_campaigns(store, NOW + timedelta(days=8)) == 1
    assert await get_campaign(store, old) is None and await get_campaign(store, kept) is not None
    for table in (campaign_contacts, campaign_attempts, campaign_calls):
        assert await count(store, table, table.c.campaign_id == old) == 0
    assert await count(store, campaign_contacts) == 2
    assert await count(store, messages) == 0
    assert await on_do_not_call(store, contact.phone_key)  # the town's list outlives campaigns
    if not store_settings.url:  # gone from the file itself, not only unlinked
        await store.dispose()
        raw = b"".join(p.read_bytes() for p in store_settings.state_dir.glob("callbot.db*"))
        assert b"Zorglub" not in raw and b"+33612345678" not in raw
