"""Campaigns in the store: created from an imported list, read back, counted, purged.

A contact's number is kept as E.164 because it must be dialed, beside its keyed pseudonym
(``callbot.privacy.pseudonymise``, the same as the call log's, so an inbound call from that
person has the same pseudonym); only the pseudonym goes into log lines and the do-not-call
list. Everything personal is purged with the campaign, ``retention_days`` after its last call
(``expires_at`` moves with every attempt that ends): contacts, attempts, locks by cascade, and
the campaign's callback tasks in the messages table explicitly (they name the campaign's call
ids, ``campaign-<id>-…``, without a foreign key). The steps of a run are in
``callbot.store.campaign_progress``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta

from loguru import logger
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callbot.campaigns.contacts_import import ImportedContact
from callbot.campaigns.model import CallingWindow, CampaignKind, CampaignPlan, ContactStatus, Result
from callbot.campaigns.scheduler import Contact
from callbot.privacy import pseudonymise
from callbot.store.campaign_schema import (
    campaign_attempts,
    campaign_calls,
    campaign_contacts,
    campaigns,
    do_not_call,
)
from callbot.store.schema import calls, messages

READY, RUNNING, FINISHED = "ready", "running", "finished"
CALL_ID_PREFIX = "campaign-"
DEFAULT_RETENTION_DAYS = 30


@dataclass(frozen=True)
class NewCampaign:
    """A campaign as ``callbot campaign import`` (or the web page) describes it."""

    name: str
    kind: CampaignKind
    town: str
    message: str
    question: str
    callback_number: str  # E.164
    caller_id: str = ""  # "": the callback number
    service: str = "ccas"
    transfer: bool = True
    emergency: bool = False
    window_start: str = "09:00"
    window_end: str = "19:00"
    max_attempts: int = 3
    retry_after_sec: float = 3600.0
    max_lines: int = 10
    pacing_sec: float = 1.0
    retention_days: int = DEFAULT_RETENTION_DAYS
    source: str = ""
    created_by: str = ""


@dataclass(frozen=True)
class CampaignRow(NewCampaign):
    id: int = 0
    fields: tuple[str, ...] = ()
    status: str = READY
    created_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def plan(self) -> CampaignPlan:
        window = CallingWindow(time.fromisoformat(self.window_start), time.fromisoformat(self.window_end))
        return CampaignPlan(window, self.emergency, self.max_attempts, self.retry_after_sec,
                            self.max_lines, self.pacing_sec,
                            callback_when_interrupted=self.kind is not CampaignKind.REMINDER)


@dataclass(frozen=True)
class Person:
    """What the dialogue needs of a contact: personal, so kept out of ``repr``."""

    id: int
    name: str
    phone: str
    fields: dict[str, str]

    def __repr__(self) -> str:
        return f"Person(id={self.id})"


def call_id_of(campaign_id: int, contact_id: int, attempt: int) -> str:
    return f"{CALL_ID_PREFIX}{campaign_id}-{contact_id}-{attempt}"


def _row(row: object) -> CampaignRow:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    values["kind"] = CampaignKind(values["kind"])
    values["fields"] = tuple(json.loads(values["fields"]))
    known = {f.name for f in fields(CampaignRow)}
    return CampaignRow(**{k: v for k, v in values.items() if k in known})


async def create_campaign(engine: AsyncEngine, spec: NewCampaign, contacts: list[ImportedContact],
                          list_fields: tuple[str, ...], key: bytes, now: datetime) -> int:
    """Store the campaign and its contacts in one transaction; returns the campaign's id."""
    values = {f.name: getattr(spec, f.name) for f in fields(NewCampaign)}
    values.update(kind=str(spec.kind), caller_id=spec.caller_id or spec.callback_number,
                  fields=json.dumps(list(list_fields)), status=READY, created_at=now,
                  expires_at=now + timedelta(days=spec.retention_days))
    async with engine.begin() as connection:
        campaign_id = (await connection.execute(insert(campaigns).values(**values))).inserted_primary_key[0]
        if contacts:
            await connection.execute(insert(campaign_contacts), [{
                "campaign_id": campaign_id, "line": c.line, "name": c.name, "phone": c.phone,
                "phone_key": pseudonymise(c.phone, key), "fields": json.dumps(c.fields),
                "status": str(ContactStatus.PENDING), "attempts": 0, "voicemail_left": False,
                "updated_at": now} for c in contacts])
    logger.info(f"campaign {campaign_id} ({spec.kind}): {len(contacts)} contact(s) imported")
    return campaign_id


async def get_campaign(engine: AsyncEngine, campaign_id: int) -> CampaignRow | None:
    async with engine.connect() as connection:
        row = (await connection.execute(select(campaigns).where(campaigns.c.id == campaign_id))).first()
    return _row(row) if row else None


async def list_campaigns(engine: AsyncEngine) -> list[CampaignRow]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(campaigns).order_by(campaigns.c.id.desc()))
    return [_row(r) for r in rows]


async def load_contacts(engine: AsyncEngine, campaign_id: int) -> tuple[list[Contact], dict[int, Person]]:
    """The scheduler's view of every contact, in list order, and who they are."""
    c = campaign_contacts.c
    async with engine.connect() as connection:
        rows = (await connection.execute(select(campaign_contacts).where(c.campaign_id == campaign_id)
                                         .order_by(c.id))).all()
    contacts = [Contact(r.id, r.phone_key, ContactStatus(r.status), r.attempts, r.next_at,
                        None if r.last_result is None else Result(r.last_result), r.voicemail_left)
                for r in rows]
    people = {r.id: Person(r.id, r.name, r.phone, json.loads(r.fields)) for r in rows}
    return contacts, people


async def set_status(engine: AsyncEngine, campaign_id: int, status: str, now: datetime) -> None:
    values: dict[str, object] = {"status": status}
    if status == FINISHED:
        row = await get_campaign(engine, campaign_id)
        values.update(finished_at=now)
        if row is not None:
            values.update(expires_at=now + timedelta(days=row.retention_days))
    async with engine.begin() as connection:
        await connection.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(**values))


async def status_counts(engine: AsyncEngine, campaign_id: int) -> dict[str, int]:
    """Contacts per status (only the statuses some contact is in)."""
    c = campaign_contacts.c
    async with engine.connect() as connection:
        rows = await connection.execute(select(c.status, func.count()).where(c.campaign_id == campaign_id)
                                        .group_by(c.status))
    return {status: n for status, n in rows}


async def people_status(engine: AsyncEngine, campaign_id: int) -> list[tuple[int, str, str, str, int]]:
    """(line, name, phone, status, attempts) per contact, in list order: for the agents."""
    c = campaign_contacts.c
    async with engine.connect() as connection:
        rows = await connection.execute(select(c.line, c.name, c.phone, c.status, c.attempts)
                                        .where(c.campaign_id == campaign_id).order_by(c.id))
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def add_do_not_call(engine: AsyncEngine, phone_key: str, source: str, now: datetime) -> bool:
    """Put a number (by its pseudonym) on the town's list; False if it was on it already."""
    async with engine.begin() as connection:
        return await insert_do_not_call(connection, phone_key, source, now)


async def insert_do_not_call(connection: AsyncConnection, phone_key: str, source: str,
                             now: datetime) -> bool:
    """``add_do_not_call`` inside the caller's transaction."""
    if await connection.scalar(select(do_not_call.c.phone_key)
                               .where(do_not_call.c.phone_key == phone_key)):
        return False
    await connection.execute(insert(do_not_call).values(phone_key=phone_key, added_at=now,
                                                        source=source[:64]))
    return True


async def on_do_not_call(engine: AsyncEngine, phone_key: str) -> bool:
    async with engine.connect() as connection:
        return bool(await connection.scalar(select(func.count()).select_from(do_not_call)
                                            .where(do_not_call.c.phone_key == phone_key)))


async def purge_campaigns(engine: AsyncEngine, now: datetime) -> int:
    """Delete every campaign past its retention, with its list, results and callback tasks;
    returns how many went. PostgreSQL is vacuumed after, as the call log's purge does."""
    async with engine.begin() as connection:
        doomed = [r for r, in await connection.execute(
            select(campaigns.c.id).where(campaigns.c.expires_at < now))]
        for campaign_id in doomed:
            prefix = f"{CALL_ID_PREFIX}{campaign_id}-%"
            await connection.execute(delete(messages).where(messages.c.call_id.like(prefix)))
            await connection.execute(delete(calls).where(calls.c.id.like(prefix)))
            # explicit, in case a SQLite connection was opened without foreign keys
            for table in (campaign_calls, campaign_attempts):
                await connection.execute(delete(table).where(table.c.campaign_id == campaign_id))
            await connection.execute(delete(campaign_contacts)
                                     .where(campaign_contacts.c.campaign_id == campaign_id))
            await connection.execute(delete(campaigns).where(campaigns.c.id == campaign_id))
    if doomed and engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql(
                "VACUUM campaigns, campaign_contacts, campaign_attempts, campaign_calls, messages")
    if doomed:
        logger.info(f"campaign purge: {len(doomed)} campaign(s) past their retention")
    return len(doomed)
