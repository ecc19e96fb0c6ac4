"""The runner over the fake dialer on a virtual clock, with the real store: a campaign of 200
people on 10 lines runs to its end with everyone in exactly one final status, inside the
window, never twice at once; a run cut mid-way is resumed with nobody called twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.campaigns import wording
from callbot.campaigns.dialer import DialOutcome
from callbot.campaigns.fake_dialer import HANGUP, Answer, FakeDialer, VirtualClock
from callbot.campaigns.model import FINAL, CampaignKind, ContactStatus, Lines
from callbot.campaigns.runner import CampaignRunner, RunnerParams
from callbot.campaigns.scheduler import why_closed
from callbot.privacy import pseudonymise
from callbot.store.campaign_schema import campaign_attempts
from callbot.store.campaigns import add_do_not_call, get_campaign, load_contacts, people_status
from callbot.store.schema import messages
from tests.test_campaign_store import KEY, campaign_with, people, store  # noqa: F401
from tests.test_store import store_settings  # noqa: F401

S = ContactStatus
FRIDAY = datetime(2026, 6, 5, 17, 30)  # retries run into Saturday; Sunday is skipped
BUSY, NOBODY = Answer(DialOutcome.BUSY), Answer(DialOutcome.NO_ANSWER)
MACHINE = Answer(machine=True)

#: Per person (by index modulo the table): what each try does, and the final status expected.
SCRIPTS: list[tuple[tuple[Answer, ...], ContactStatus]] = [
    ((Answer(replies=("oui",)),), S.FINE),
    ((BUSY, BUSY, Answer(replies=("ça va merci",))), S.FINE),
    ((NOBODY, NOBODY, NOBODY), S.NO_ANSWER),
    ((MACHINE, Answer(replies=("non",))), S.TRANSFERRED),
    ((Answer(replies=("je suis tombée",), transfer_ok=False),), S.CALLBACK),
    ((Answer(replies=("ne m'appelez plus",)),), S.OPTED_OUT),
    ((Answer(replies=("key 1",)),), S.FINE),
    ((Answer(replies=("key 2",)),), S.TRANSFERRED),
    ((Answer(drop_at_say=2),), S.HUNG_UP),  # gone during the message
    ((Answer(DialOutcome.REJECTED),), S.FAILED),
    ((MACHINE, MACHINE, MACHINE), S.VOICEMAIL),
    ((Answer(replies=("", "")),), S.TRANSFERRED),  # silence twice: a person checks
    ((Answer(replies=("allô ?", HANGUP)),), S.HUNG_UP),
    ((Answer(DialOutcome.FAILED), Answer(replies=("oui",))), S.FINE),
    ((Answer(placed=False), Answer(replies=("oui",))), S.FINE),  # no line the first time
]


def script_of(numbers: list[str]) -> dict[str, tuple[tuple[Answer, ...], ContactStatus]]:
    return {number: SCRIPTS[i % len(SCRIPTS)] for i, number in enumerate(numbers)}


async def test_200_people_on_10_lines_each_end_in_exactly_one_final_status(
        store: AsyncEngine) -> None:  # noqa: F811
    contacts = people(200)
    campaign_id = await campaign_with(store, contacts, max_lines=10)
    opted_before = contacts[3].phone  # on the town's list before the campaign: the first
    # decision already knows it
    await add_do_not_call(store, pseudonymise(opted_before, KEY), "cli:agent", FRIDAY)
    scripts = script_of([c.phone for c in contacts])
    clock = VirtualClock(FRIDAY)

    def answer(number: str, attempt: int) -> Answer:
        tries, _ = scripts[number]
        return tries[min(attempt, len(tries)) - 1]

    dialer = FakeDialer(answer, clock.now, call_sec=0.001)
    campaign = await get_campaign(store, campaign_id)
    runner = CampaignRunner(store, campaign, dialer, RunnerParams(Lines(total=12, inbound_reserve=2)),
                            clock)
    counts = await asyncio.wait_for(runner.run(), 120)

    assert sum(counts.values()) == 200 and set(counts) <= set(FINAL)
    statuses = {phone: status for _, _, phone, status, _ in await people_status(store, campaign_id)}
    expected = {n: str(final) for n, (_, final) in scripts.items()}
    expected[opted_before] = str(S.EXCLUDED)
    assert statuses == expected
    assert not dialer.overlaps and 2 <= dialer.max_active <= 10
    assert all(why_closed(campaign.plan.window, at, False) is None for at, _ in dialer.dials)
    assert opted_before not in {n for _, n in dialer.dials}
    for number, (tries, _) in scripts.items():
        if number != opted_before:
            placed = [a for a in tries if a.placed]
            assert dialer.tries(number) == len(placed), number  # never after a final status
    busy_twice = contacts[1].phone
    times = [at for at, n in dialer.dials if n == busy_twice]
    assert all(b - a >= timedelta(hours=1) for a, b in zip(times, times[1:], strict=False))
    assert max(at for at, _ in dialer.dials).date() == datetime(2026, 6, 6).date()  # Saturday
    machine_lines = [line for line in dialer.lines if line.number == contacts[10].phone]
    assert [len(line.said) for line in machine_lines] == [1, 0, 0]  # the voicemail once
    assert machine_lines[0].said[0].startswith("Bonjour, ceci est un message automatisé")
    async with store.connect() as connection:
        tasks = (await connection.execute(select(messages.c.text))).scalars().all()
        attempts = (await connection.execute(select(campaign_attempts))).all()
    assert len(tasks) == counts["callback"]
    assert all(a.result is not None and a.ended_at is not None for a in attempts)
    spoken = next(line.said for line in dialer.lines if line.number == contacts[0].phone)
    assert spoken[0] == wording.disclosure("Villebrune", "Personne 0")
    assert spoken[1] == "Bonjour Personne 0." and spoken[2] == wording.HEATWAVE_QUESTION
    assert (await get_campaign(store, campaign_id)).status == "finished"


async def test_a_run_cut_mid_way_resumes_with_nobody_called_twice(store: AsyncEngine) -> None:  # noqa: F811
    contacts = people(30)
    campaign_id = await campaign_with(store, contacts, kind=CampaignKind.HEATWAVE, max_lines=10)
    numbers = [c.phone for c in contacts]
    ringing, talking = set(numbers[:3]), set(numbers[3:6])
    start = datetime(2026, 6, 2, 10, 0)
    clock = VirtualClock(start)

    def first_run(number: str, attempt: int) -> Answer:
        if number in ringing:
            return Answer(blocks="dial")
        return Answer(replies=("oui",), blocks="call" if number in talking else "")

    dialer = FakeDialer(first_run, clock.now)
    campaign = await get_campaign(store, campaign_id)
    run = asyncio.create_task(CampaignRunner(store, campaign, dialer, clock=clock).run())
    await asyncio.wait_for(dialer.until(
        lambda: dialer.hanging == 6 and sum(bool(line.ended) for line in dialer.lines) == 24), 60)
    run.cancel()  # the process stops with 3 calls ringing and 3 people on the line
    await asyncio.gather(run, return_exceptions=True)
    left, persons = await load_contacts(store, campaign_id)
    cut = {persons[c.id].phone: c.status for c in left if c.status not in FINAL}
    assert set(cut.values()) <= {S.DIALING, S.IN_CALL}  # a call cut is in one of two states
    dialing = {n for n, s in cut.items() if s is S.DIALING}
    in_call = {n for n, s in cut.items() if s is S.IN_CALL}
    assert dialing == ringing and in_call >= talking  # (a goodbye being said may be cut too)

    restart = start + timedelta(minutes=5)
    clock = VirtualClock(restart)
    again = FakeDialer(lambda number, attempt: Answer(replies=("oui",)), clock.now)
    counts = await asyncio.wait_for(CampaignRunner(store, campaign, again, clock=clock).run(), 60)

    assert counts == {"fine": 30 - len(in_call), "interrupted": len(in_call)}
    assert {n for _, n in again.dials} == ringing  # only the calls that never got an answer…
    assert all(at >= restart + timedelta(hours=1) for at, _ in again.dials)  # …an hour later
    statuses = {phone: status for _, _, phone, status, _ in await people_status(store, campaign_id)}
    assert {n for n, s in statuses.items() if s == "interrupted"} == in_call
    async with store.connect() as connection:
        tasks = (await connection.execute(select(messages.c.text, messages.c.callback))).all()
    assert sorted(t.callback for t in tasks) == sorted(in_call)  # an agent checks on each
    assert all("coupé par un arrêt du service" in t.text for t in tasks)
