"""The steps of a campaign run, each written before the runner acts on it.

``claim`` marks a contact ``dialing``, counts its try, opens its attempt and takes the
person's lock in one transaction, before any INVITE: if the process dies during the call, the
next run finds the contact ``dialing`` (or ``in_call``, saved as soon as the call is answered)
and the scheduler decides its fate. ``apply`` writes the scheduler's actions after an event (statuses,
the attempt closed with its result, the lock released, a callback task, the do-not-call list)
in one transaction: a callback task exists exactly when the contact's final status says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callbot.campaigns.model import ContactStatus, Result
from callbot.campaigns.scheduler import Callback, Contact, DoNotCall, Save
from callbot.privacy import redact
from callbot.store.campaign_schema import (
    campaign_attempts,
    campaign_calls,
    campaign_contacts,
    campaigns,
    do_not_call,
)
from callbot.store.campaigns import CampaignRow, Person, call_id_of, insert_do_not_call
from callbot.store.messages import insert_message

#: What an agent reads in « Messages et rappels » for each callback reason.
CALLBACK_TEXT = {
    Result.CALLBACK: "a besoin d'aide et aucun agent n'a pu prendre l'appel : à rappeler ({why})",
    Result.INTERRUPTED: "l'appel a été coupé par un arrêt du service : à rappeler pour savoir "
                        "si tout va bien",
}


@dataclass(frozen=True)
class Facts:
    """What the scheduler must know of the world outside its campaign."""

    busy_elsewhere: frozenset[str]  # people in another campaign's call
    do_not_call: frozenset[str]  # this campaign's people on the town's list
    outbound_elsewhere: int  # other campaigns' calls holding a line


async def claim(engine: AsyncEngine, campaign_id: int, contact: Contact, now: datetime) -> bool:
    """Take the person's lock and mark the try; False if another call has the person (or
    this contact is no longer pending: a second runner got there first)."""
    c = campaign_contacts.c
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(campaign_calls).values(
                phone_key=contact.phone_key, campaign_id=campaign_id, contact_id=contact.id,
                since=now))
            marked = await connection.execute(
                update(campaign_contacts).where(c.id == contact.id, c.status == ContactStatus.PENDING)
                .values(status=ContactStatus.DIALING, attempts=contact.attempts, next_at=None,
                        updated_at=now))
            if marked.rowcount != 1:
                raise _NotPending
            await connection.execute(insert(campaign_attempts).values(
                campaign_id=campaign_id, contact_id=contact.id, number=contact.attempts,
                call_id=call_id_of(campaign_id, contact.id, contact.attempts), started_at=now))
    except (IntegrityError, _NotPending):
        return False
    return True


class _NotPending(Exception):
    """Raised inside ``claim``'s transaction to roll it back."""


async def apply(engine: AsyncEngine, campaign: CampaignRow, actions: list[object],
                people: dict[int, Person], now: datetime, why: str = "") -> None:
    """Write ``Save``, ``Callback`` and ``DoNotCall`` actions in one transaction (others are
    the runner's); ``why`` goes with the attempt a ``Save`` closes."""
    ours = [a for a in actions if isinstance(a, Save | Callback | DoNotCall)]
    if not ours:
        return
    async with engine.begin() as connection:
        for action in ours:
            if isinstance(action, Save):
                await _save(connection, action, now, why)
            elif isinstance(action, Callback):
                await _callback(connection, campaign, action, people[action.contact_id], now, why)
            else:
                await insert_do_not_call(connection, action.phone_key, f"campaign {campaign.id}", now)
        if any(isinstance(a, Save) and a.result is not None for a in ours):
            await connection.execute(update(campaigns).where(campaigns.c.id == campaign.id).values(
                expires_at=now + timedelta(days=campaign.retention_days)))


async def _save(connection: AsyncConnection, action: Save, now: datetime, why: str) -> None:
    contact = action.contact
    await connection.execute(update(campaign_contacts).where(campaign_contacts.c.id == contact.id).values(
        status=contact.status, attempts=contact.attempts, next_at=contact.next_at,
        last_result=contact.last_result, voicemail_left=contact.voicemail_left, updated_at=now))
    a = campaign_attempts.c
    if contact.status is ContactStatus.IN_CALL:  # answered: a restart must not call again
        await connection.execute(update(campaign_attempts).where(
            a.contact_id == contact.id, a.ended_at.is_(None)).values(answered_at=now))
    if action.result is None:
        return
    await connection.execute(update(campaign_attempts).where(a.contact_id == contact.id,
                                                             a.ended_at.is_(None)).values(
        ended_at=now, result=action.result, detail=redact(why)[:300]))
    await connection.execute(delete(campaign_calls).where(campaign_calls.c.contact_id == contact.id))


async def _callback(connection: AsyncConnection, campaign: CampaignRow, action: Callback,
                    person: Person, now: datetime, why: str) -> None:
    contact = campaign_contacts.c
    attempt = await connection.scalar(select(contact.attempts).where(contact.id == person.id))
    who = person.name or "une personne de la liste"
    text = f"Campagne « {campaign.name} » : {who} {CALLBACK_TEXT[action.reason].format(why=why)}."
    await insert_message(connection, call_id_of(campaign.id, person.id, attempt or 0),
                         campaign.service, text, person.phone, True, "", "", now)


async def facts(engine: AsyncEngine, campaign_id: int) -> Facts:
    c, lock = campaign_contacts.c, campaign_calls.c
    async with engine.connect() as connection:
        busy = frozenset(k for k, in await connection.execute(
            select(lock.phone_key).where(lock.campaign_id != campaign_id)))
        listed = frozenset(k for k, in await connection.execute(
            select(c.phone_key).where(c.campaign_id == campaign_id,
                                      c.phone_key.in_(select(do_not_call.c.phone_key)))))
        elsewhere = await connection.scalar(select(func.count()).select_from(campaign_calls)
                                            .where(lock.campaign_id != campaign_id))
    return Facts(busy, listed, int(elsewhere or 0))
