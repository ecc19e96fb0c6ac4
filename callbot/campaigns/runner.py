"""``CampaignRunner``: a campaign carried out to its end over a ``Dialer``.

The runner owns nothing of the policy: every tick it reads the outside facts (who is in
another campaign's call, who is on the do-not-call list, the lines callers hold), asks the
scheduler (``callbot.campaigns.scheduler.decide``), writes what it decided
(``callbot.store.campaign_progress``), and only then acts: one named task per call placed,
which claims the person, dials, has ``callbot.campaigns.call_driver`` run the dialogue over the
answered ``CallLine`` and reports the result back to the scheduler. Cancelled (SIGTERM),
it cancels its calls and returns; the contacts left ``dialing`` or ``in_call`` in the store are
decided by the next run (``Restarted``), so nobody is called twice.

Log lines name people by their keyed pseudonym only ("campaign 3 person 5f2c…: busy"), as the
call log does, and pass through ``callbot.privacy.redact`` (a back end's reason phrase may hold
a number).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.campaigns.call_driver import context_for, drive
from callbot.campaigns.dialer import Dialer, DialOutcome
from callbot.campaigns.model import Lines, Result
from callbot.campaigns.scheduler import (
    Action,
    Answered,
    Dial,
    Ended,
    Event,
    Finished,
    Restarted,
    Tick,
    WakeAt,
    decide,
    initial_state,
)
from callbot.privacy import redact
from callbot.store import campaign_progress as progress
from callbot.store.campaigns import (
    FINISHED,
    RUNNING,
    CampaignRow,
    Person,
    load_contacts,
    set_status,
    status_counts,
)

#: A dial outcome → the attempt's result (an answered call's comes from its dialogue).
RESULT_OF: dict[str, Result] = {DialOutcome.BUSY: Result.BUSY, DialOutcome.NO_ANSWER: Result.NO_ANSWER,
                                DialOutcome.REJECTED: Result.UNREACHABLE, DialOutcome.FAILED: Result.FAILED}


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def wait(self, calls: set[asyncio.Task[None]], until: datetime | None, poll_sec: float) -> None:
        """Until a call ends, ``until`` comes, or ``poll_sec`` passes, whichever is first."""
        ...


class WallClock:
    """The town's local time (naive, as the store keeps it) and real waiting; ``start``
    ("2026-07-01T10:00", setting ``fixed_now``) sets the clock to that moment when the run
    begins, from where it goes on at the real pace (demos and tests at a chosen hour)."""

    def __init__(self, timezone: str = "Europe/Paris", start: str | None = None) -> None:
        self.zone = ZoneInfo(timezone)
        self.offset = timedelta(0)
        if start:
            self.offset = datetime.fromisoformat(start).replace(tzinfo=None) - self._real()

    def _real(self) -> datetime:
        return datetime.now(self.zone).replace(tzinfo=None)

    def now(self) -> datetime:
        return self._real() + self.offset

    async def wait(self, calls: set[asyncio.Task[None]], until: datetime | None, poll_sec: float) -> None:
        timeout = poll_sec if until is None else min(poll_sec, (until - self.now()).total_seconds())
        timeout = max(0.0, timeout)
        if calls:
            await asyncio.wait(calls, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        else:
            await asyncio.sleep(timeout)


@dataclass(frozen=True)
class RunnerParams:
    lines: Lines = Lines()  # the trunk's lines and those kept for callers
    poll_sec: float = 15.0  # look at the outside facts at least this often
    listen_sec: float = 6.0


class CampaignRunner:
    def __init__(self, engine: AsyncEngine, campaign: CampaignRow, dialer: Dialer,
                 params: RunnerParams | None = None, clock: Clock | None = None,
                 inbound_active: Callable[[], int] = lambda: 0) -> None:
        self.engine, self.campaign, self.dialer = engine, campaign, dialer
        self.params = params or RunnerParams()
        self.clock: Clock = clock or WallClock()
        self.inbound_active = inbound_active
        self.calls: set[asyncio.Task[None]] = set()
        self.people: dict[int, Person] = {}
        self.finished = False  # the last decision found every contact final
        self.wake_at: datetime | None = None  # the last decision's next look
        self.ticked_at = datetime.min
        self.log = logger.bind(campaign=campaign.id)

    async def run(self) -> dict[str, int]:
        """Call until every contact is in a final status; returns the contacts per status."""
        contacts, self.people = await load_contacts(self.engine, self.campaign.id)
        self.state = initial_state(self.campaign.plan, contacts, self.params.lines)
        tick = await self._tick()
        await self._feed(Restarted(tick.lines, tick.busy_elsewhere, tick.do_not_call))
        await set_status(self.engine, self.campaign.id, RUNNING, self.clock.now())
        self.log.info(f"campaign {self.campaign.id} running: {len(contacts)} contact(s)")
        try:
            while not (self.finished and not self.calls):
                await self.clock.wait(set(self.calls), self.wake_at, self.params.poll_sec)
                ended = self._reap()
                now = self.clock.now()
                # a call's end was decided on already; time passing needs a look at the world
                if not ended or (self.wake_at is not None and now >= self.wake_at) \
                        or (now - self.ticked_at).total_seconds() >= self.params.poll_sec:
                    await self._feed(await self._tick())
        finally:
            await self._cancel_calls()
        await set_status(self.engine, self.campaign.id, FINISHED, self.clock.now())
        counts = await status_counts(self.engine, self.campaign.id)
        self.log.info(f"campaign {self.campaign.id} finished: {counts}")
        return counts

    async def _tick(self) -> Tick:
        self.ticked_at = self.clock.now()
        facts = await progress.facts(self.engine, self.campaign.id)
        lines = replace(self.params.lines, inbound_active=self.inbound_active(),
                        outbound_elsewhere=facts.outbound_elsewhere)
        return Tick(lines, facts.busy_elsewhere, facts.do_not_call)

    async def _feed(self, event: Event, why: str = "") -> list[Action]:
        """One scheduler decision: written first, then acted on."""
        now = self.clock.now()
        self.state, actions = decide(self.state, event, now)
        await progress.apply(self.engine, self.campaign, actions, self.people, now, why)
        self.finished = any(isinstance(a, Finished) for a in actions)
        self.wake_at = next((a.at for a in actions if isinstance(a, WakeAt)), None)
        for action in actions:
            if isinstance(action, Dial):
                task = asyncio.create_task(self._call(action),
                                           name=f"campaign-{self.campaign.id}-contact-{action.contact.id}")
                self.calls.add(task)
        return actions

    def _reap(self) -> int:
        """Forget the calls that ended; returns how many."""
        done = [t for t in self.calls if t.done()]
        for task in done:
            self.calls.discard(task)
            task.result()  # a call task that failed outside its own handling stops the run
        return len(done)

    async def _cancel_calls(self) -> None:
        for task in self.calls:
            task.cancel()
        await asyncio.gather(*self.calls, return_exceptions=True)
        self.calls.clear()

    async def _call(self, dial: Dial) -> None:
        contact, person = dial.contact, self.people[dial.contact.id]
        log = self.log.bind(person=contact.phone_key).patch(
            lambda record: record.update(message=f"campaign {self.campaign.id} person "
                                                 f"{contact.phone_key}: {redact(record['message'])}"))
        if not await progress.claim(self.engine, self.campaign.id, contact, self.clock.now()):
            await self._feed(Ended(contact.id, Result.NOT_PLACED), "the person is in another call")
            return
        log.info(f"dialing (try {contact.attempts})")
        try:
            report = await self.dialer.dial(person.phone, self.campaign.caller_id)
        except Exception as exc:  # the back end failed: a failed try, retried
            log.warning(f"dial failed: {type(exc).__name__}")
            await self._feed(Ended(contact.id, Result.FAILED), f"dial failed: {type(exc).__name__}")
            return
        if not report.placed:
            await self._feed(Ended(contact.id, Result.NOT_PLACED), report.reason)
            return
        if report.outcome != DialOutcome.ANSWERED or report.call is None:
            result = RESULT_OF.get(str(report.outcome), Result.FAILED)
            log.info(f"{result} ({report.reason})")
            await self._feed(Ended(contact.id, result), report.reason)
            return
        await self._feed(Answered(contact.id))  # saved in_call before a word is said
        ctx = context_for(self.campaign, person, dial.leave_voicemail, self.params.listen_sec)
        end = await drive(report.call, ctx, self.clock.now, log)
        log.info(f"{end.result} ({end.why})")
        await self._feed(Ended(contact.id, end.result, end.voicemail_left), end.why)
