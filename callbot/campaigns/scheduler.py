"""Who to call now: ``decide(state, event, now) → (state, actions)``, pure and clock-free.

The runner feeds events (a tick with the outside facts, an answer, the end of an attempt, a
restart) and carries the actions out, saving each changed contact *before* it acts on it: a
contact is ``dialing`` in the store before its call is placed. That is what makes a restart
safe. At restart a contact still ``dialing`` was never answered: the try counts as a no answer
and is retried on the usual schedule, if a try is left. A contact ``in_call`` was answered and
may have heard everything: it is not called again (``interrupted``), and when the campaign
checks on people an agent gets a callback task instead.

The window's hours are the town's local time (naive, as the call log keeps it); French public
holidays come from the ``holidays`` package through ``callbot.kb.hours``, the calendar the
opening hours use (Easter Monday, Ascension and Whit Monday included).

Rules, in order: nobody on the do-not-call list is called; nothing starts outside the window;
this campaign never has more than ``max_lines`` calls, and all outbound calls together leave
``inbound_reserve`` lines free for callers; a person already in a call (of any campaign) waits;
calls start at least ``pacing_sec`` apart, and none for a few seconds after one could not be
placed; due retries and first tries go in list order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from callbot.campaigns.model import (
    ACTIVE,
    FINAL,
    FINAL_OF,
    RETRIED,
    CallingWindow,
    CampaignPlan,
    ContactStatus,
    Lines,
    Result,
)
from callbot.kb.hours import holiday_name

#: A call that could not be placed (no free line, the person in another call) holds every new
#: call back this long, rather than trying the whole list against a full trunk at once.
NOT_PLACED_HOLD_SEC = 5.0


# --- the calling window ----------------------------------------------------------------
#: How far ahead the next opening is looked for (a window with no weekday has none).
SEARCH_DAYS = 31


def day_allowed(window: CallingWindow, day: date, emergency: bool) -> bool:
    """May calls be placed on ``day`` at all? An emergency ignores Sundays and holidays."""
    if emergency:
        return True
    return day.weekday() in window.weekdays and holiday_name(day) is None


def why_closed(window: CallingWindow, now: datetime, emergency: bool) -> str | None:
    """``None`` when a call may start at ``now``, else the reason in a few words."""
    if not emergency:
        holiday = holiday_name(now.date())
        if holiday:
            return f"public holiday ({holiday})"
        if now.weekday() not in window.weekdays:
            return "no calls on this weekday"
    if now.time() < window.start:
        return f"before {window.start:%H:%M}"
    if now.time() >= window.end:
        return f"after {window.end:%H:%M}"
    return None


def is_open(window: CallingWindow, now: datetime, emergency: bool) -> bool:
    return why_closed(window, now, emergency) is None


def next_opening(window: CallingWindow, now: datetime, emergency: bool) -> datetime | None:
    """``now`` if a call may start now, else the first moment one may; ``None`` if there is
    none within ``SEARCH_DAYS``."""
    if is_open(window, now, emergency):
        return now
    for offset in range(SEARCH_DAYS + 1):
        day = now.date() + timedelta(days=offset)
        opening = datetime.combine(day, window.start)
        if opening >= now and window.start < window.end and day_allowed(window, day, emergency):
            return opening
    return None


@dataclass(frozen=True)
class Contact:
    id: int
    phone_key: str  # the keyed pseudonym of the number: one person across campaigns
    status: ContactStatus = ContactStatus.PENDING
    attempts: int = 0
    next_at: datetime | None = None  # a retry's earliest moment
    last_result: Result | None = None
    voicemail_left: bool = False

    @property
    def final(self) -> bool:
        return self.status in FINAL


@dataclass(frozen=True)
class SchedulerState:
    plan: CampaignPlan
    contacts: Mapping[int, Contact]  # by id, in list order
    lines: Lines = Lines()
    busy_elsewhere: frozenset[str] = frozenset()  # phone keys in other campaigns' calls
    do_not_call: frozenset[str] = frozenset()  # phone keys
    last_dial_at: datetime | None = None
    held_until: datetime | None = None  # a call could not be placed: no new one before this


# --- events ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Tick:
    """Time passed, with fresh outside facts (``None``: unchanged)."""

    lines: Lines | None = None
    busy_elsewhere: frozenset[str] | None = None
    do_not_call: frozenset[str] | None = None


@dataclass(frozen=True)
class Answered:
    contact_id: int


@dataclass(frozen=True)
class Ended:
    contact_id: int
    result: Result
    voicemail_left: bool = False


@dataclass(frozen=True)
class Restarted(Tick):
    """The runner starts on a campaign that may have been cut mid-way (with the facts of a
    tick: nobody on the do-not-call list may be dialed by the first decision)."""


Event = Tick | Answered | Ended  # Restarted is a Tick


# --- actions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Save:
    """Write the contact as it is now (and, with ``result``, close its current attempt)."""

    contact: Contact
    result: Result | None = None


@dataclass(frozen=True)
class Dial:
    """Place a call; ``contact`` is already ``dialing``, its attempt counted: save it first."""

    contact: Contact
    leave_voicemail: bool  # the short message goes on the first answering machine only


@dataclass(frozen=True)
class Callback:
    """A task at the top of the agents' list: call this person back."""

    contact_id: int
    reason: Result


@dataclass(frozen=True)
class DoNotCall:
    phone_key: str


@dataclass(frozen=True)
class WakeAt:
    """Nothing more to do before ``at`` unless an event comes (``None``: wait for one)."""

    at: datetime | None
    why: str = ""


@dataclass(frozen=True)
class Finished:
    """Every contact is in a final status."""


Action = Save | Dial | Callback | DoNotCall | WakeAt | Finished
Decision = tuple[SchedulerState, list[Action]]


@dataclass
class _Changes:
    """The decision being built: contacts changed so far, actions in order."""

    contacts: dict[int, Contact]
    actions: list[Action] = field(default_factory=list)

    def save(self, contact: Contact, result: Result | None = None) -> None:
        self.contacts[contact.id] = contact
        self.actions.append(Save(contact, result))


def decide(state: SchedulerState, event: Event, now: datetime) -> Decision:
    """Everything the runner does in answer to one event."""
    changes = _Changes(dict(state.contacts))
    if isinstance(event, Tick):  # a Restarted too
        state = replace(state, lines=event.lines or state.lines,
                        busy_elsewhere=_or(event.busy_elsewhere, state.busy_elsewhere),
                        do_not_call=_or(event.do_not_call, state.do_not_call))
    match event:
        case Answered(contact_id=contact_id):
            contact = state.contacts[contact_id]
            if contact.status is ContactStatus.DIALING:
                changes.save(replace(contact, status=ContactStatus.IN_CALL))
        case Ended():
            state = _ended(state, event, now, changes)
        case Restarted():
            for contact in state.contacts.values():
                if contact.status is ContactStatus.DIALING:
                    _settle(state.plan, contact, Result.NO_ANSWER, now, changes)
                elif contact.status is ContactStatus.IN_CALL:
                    _settle(state.plan, contact, Result.INTERRUPTED, now, changes)
    state = replace(state, contacts=changes.contacts)
    return _schedule(state, now, changes)


def _or(value: frozenset[str] | None, current: frozenset[str]) -> frozenset[str]:
    return current if value is None else value


def _ended(state: SchedulerState, event: Ended, now: datetime, changes: _Changes) -> SchedulerState:
    contact = state.contacts[event.contact_id]
    if contact.status not in ACTIVE:
        return state  # already settled (a late or repeated report)
    contact = replace(contact, voicemail_left=contact.voicemail_left or event.voicemail_left)
    if event.result is Result.NOT_PLACED:  # no line, or another campaign has the person
        changes.save(replace(contact, status=ContactStatus.PENDING, attempts=contact.attempts - 1),
                     event.result)
        return replace(state, held_until=now + timedelta(seconds=NOT_PLACED_HOLD_SEC))
    _settle(state.plan, contact, event.result, now, changes)
    return state


def _settle(plan: CampaignPlan, contact: Contact, result: Result, now: datetime,
            changes: _Changes) -> None:
    """The contact after an attempt ending in ``result``: a retry, or its final status."""
    if result in RETRIED and contact.attempts < plan.max_attempts:
        changes.save(replace(contact, status=ContactStatus.PENDING, last_result=result,
                             next_at=now + timedelta(seconds=plan.retry_after_sec)), result)
        return
    changes.save(replace(contact, status=FINAL_OF[result], last_result=result, next_at=None),
                 result)
    if result is Result.OPTED_OUT:
        changes.actions.append(DoNotCall(contact.phone_key))
    if result is Result.CALLBACK or (result is Result.INTERRUPTED and plan.callback_when_interrupted):
        changes.actions.append(Callback(contact.id, result))


def _schedule(state: SchedulerState, now: datetime, changes: _Changes) -> Decision:
    """Exclude, dial what is due and may be, then say when to look again."""
    plan = state.plan
    for contact in list(changes.contacts.values()):
        if contact.status is ContactStatus.PENDING and contact.phone_key in state.do_not_call:
            changes.save(replace(contact, status=ContactStatus.EXCLUDED, next_at=None))
    contacts = changes.contacts
    if all(c.final for c in contacts.values()):
        return replace(state, contacts=contacts), [*changes.actions, Finished()]
    if not is_open(plan.window, now, plan.emergency):
        opening = next_opening(plan.window, now, plan.emergency)
        return (replace(state, contacts=contacts),
                [*changes.actions, WakeAt(opening, "outside the calling window")])
    active = [c for c in contacts.values() if c.status in ACTIVE]
    busy = state.busy_elsewhere | {c.phone_key for c in active}
    pending = [c for c in contacts.values() if c.status is ContactStatus.PENDING]
    due = sorted((c for c in pending if (c.next_at is None or c.next_at <= now)
                  and c.phone_key not in busy), key=lambda c: c.next_at or datetime.min)
    free = min(plan.max_lines - len(active), state.lines.free_for_outbound(len(active)))
    last_dial = state.last_dial_at
    paced_until = last_dial + timedelta(seconds=plan.pacing_sec) if last_dial else None
    if state.held_until and (paced_until is None or state.held_until > paced_until):
        paced_until = state.held_until
    for contact in due:
        if free <= 0 or (paced_until is not None and now < paced_until):
            break
        dialing = replace(contact, status=ContactStatus.DIALING, attempts=contact.attempts + 1,
                          next_at=None)
        contacts[contact.id] = dialing
        changes.actions.append(Dial(dialing, leave_voicemail=not contact.voicemail_left))
        free, last_dial = free - 1, now
        if plan.pacing_sec > 0:
            paced_until = now + timedelta(seconds=plan.pacing_sec)
    state = replace(state, contacts=contacts, last_dial_at=last_dial)
    return state, [*changes.actions, _wake(state, now, paced_until, due)]


def _wake(state: SchedulerState, now: datetime, paced_until: datetime | None,
          due: list[Contact]) -> WakeAt:
    """The next moment something may change without an event: a pace gap ends, a retry is due."""
    waiting = [c for c in due if state.contacts[c.id].status is ContactStatus.PENDING]
    moments: list[tuple[datetime, str]] = []
    if waiting and paced_until is not None and paced_until > now:
        moments.append((paced_until, "pacing"))
    for contact in state.contacts.values():
        if contact.status is ContactStatus.PENDING and contact.next_at and contact.next_at > now:
            opening = next_opening(state.plan.window, contact.next_at, state.plan.emergency)
            if opening is not None:
                moments.append((opening, "a retry is due"))
    if not moments:
        return WakeAt(None, "waiting for a call to end or a line to free")
    at, why = min(moments)
    return WakeAt(at, why)


def initial_state(plan: CampaignPlan, contacts: list[Contact],
                  lines: Lines | None = None) -> SchedulerState:
    """The state of a campaign loaded from the store (send ``Restarted`` first)."""
    return SchedulerState(plan, {c.id: c for c in contacts}, lines or Lines())
