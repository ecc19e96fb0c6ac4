"""The calling window and the pure scheduler on a fixed clock: hours, Sundays and French public
holidays, lines kept for callers, the campaign's cap, pacing, retries an hour apart, the
do-not-call list, one call at a time per person, and the fate of calls cut by a restart."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest

from callbot.campaigns.model import (
    FINAL,
    CallingWindow,
    CampaignPlan,
    ContactStatus,
    Lines,
    Result,
)
from callbot.campaigns.scheduler import (
    Answered,
    Callback,
    Contact,
    Dial,
    DoNotCall,
    Ended,
    Finished,
    Restarted,
    Save,
    SchedulerState,
    Tick,
    WakeAt,
    decide,
    initial_state,
    next_opening,
    why_closed,
)

WINDOW = CallingWindow()
TUESDAY = datetime(2026, 6, 2, 10, 0)
S = ContactStatus


@pytest.mark.parametrize(("now", "emergency", "closed"), [
    (datetime(2026, 6, 2, 10, 0), False, None),  # a Tuesday morning
    (datetime(2026, 6, 2, 9, 0), False, None),
    (datetime(2026, 6, 2, 8, 59), False, "before 09:00"),
    (datetime(2026, 6, 2, 18, 59), False, None),
    (datetime(2026, 6, 2, 19, 0), False, "after 19:00"),
    (datetime(2026, 6, 2, 23, 0), True, "after 19:00"),  # an emergency keeps the hours
    (datetime(2026, 6, 2, 7, 0), True, "before 09:00"),
    (datetime(2026, 6, 6, 11, 0), False, None),  # Saturday
    (datetime(2026, 6, 7, 11, 0), False, "no calls on this weekday"),  # Sunday
    (datetime(2026, 6, 7, 11, 0), True, None),
    (datetime(2026, 4, 6, 10, 0), False, "public holiday (Lundi de Pâques)"),
    (datetime(2026, 4, 6, 10, 0), True, None),
    (datetime(2026, 5, 14, 10, 0), False, "public holiday (Ascension)"),
    (datetime(2026, 5, 25, 10, 0), False, "public holiday (Lundi de Pentecôte)"),
    (datetime(2027, 3, 29, 10, 0), False, "public holiday (Lundi de Pâques)"),  # Easter moves
    (datetime(2027, 5, 6, 10, 0), False, "public holiday (Ascension)"),
    (datetime(2026, 7, 14, 10, 0), False, "public holiday (Fête nationale)"),
    (datetime(2026, 8, 15, 10, 0), False, "public holiday (Assomption)"),  # a Saturday
    (datetime(2026, 12, 25, 10, 0), False, "public holiday (Noël)"),
    (datetime(2026, 11, 11, 10, 0), False, "public holiday (Armistice)"),
    (datetime(2026, 4, 7, 10, 0), False, None),  # the Tuesday after Easter
])
def test_the_window(now: datetime, emergency: bool, closed: str | None) -> None:
    assert why_closed(WINDOW, now, emergency) == closed


@pytest.mark.parametrize(("now", "emergency", "opening"), [
    (datetime(2026, 6, 2, 10, 0), False, datetime(2026, 6, 2, 10, 0)),
    (datetime(2026, 6, 2, 7, 30), False, datetime(2026, 6, 2, 9, 0)),
    (datetime(2026, 6, 2, 19, 30), False, datetime(2026, 6, 3, 9, 0)),
    (datetime(2026, 6, 6, 19, 30), False, datetime(2026, 6, 8, 9, 0)),  # Saturday → Monday
    (datetime(2026, 6, 6, 19, 30), True, datetime(2026, 6, 7, 9, 0)),  # … or Sunday
    (datetime(2026, 4, 4, 19, 30), False, datetime(2026, 4, 7, 9, 0)),  # Sunday, Easter Monday
    (datetime(2026, 5, 13, 20, 0), False, datetime(2026, 5, 15, 9, 0)),  # Ascension
    (datetime(2026, 12, 24, 19, 0), False, datetime(2026, 12, 26, 9, 0)),
])
def test_the_next_opening(now: datetime, emergency: bool, opening: datetime) -> None:
    assert next_opening(WINDOW, now, emergency) == opening


def test_a_window_without_days_never_opens() -> None:
    assert next_opening(CallingWindow(weekdays=frozenset()), TUESDAY, False) is None


PLAN = CampaignPlan()
MANY_LINES = Lines(total=30, inbound_reserve=2)


def state_of(n: int, plan: CampaignPlan = PLAN, lines: Lines = MANY_LINES) -> SchedulerState:
    return initial_state(plan, [Contact(i, f"key{i}") for i in range(1, n + 1)], lines)


def dials(actions: list[object]) -> list[int]:
    return [a.contact.id for a in actions if isinstance(a, Dial)]


def wake(actions: list[object]) -> WakeAt:
    return next(a for a in actions if isinstance(a, WakeAt))


@pytest.mark.parametrize(("lines", "max_lines", "dialed"), [
    (Lines(total=30, inbound_reserve=2), 10, 10),  # the campaign's cap
    (Lines(total=30, inbound_reserve=2), 3, 3),
    (Lines(total=10, inbound_reserve=2), 10, 8),  # two lines stay free for callers
    (Lines(total=10, inbound_reserve=2, inbound_active=5), 10, 3),
    (Lines(total=10, inbound_reserve=2, inbound_active=8), 10, 0),
    (Lines(total=10, inbound_reserve=2, inbound_active=10), 10, 0),
    (Lines(total=10, inbound_reserve=2, outbound_elsewhere=6), 10, 2),  # another campaign
    (Lines(total=10, inbound_reserve=0), 10, 10),
])
def test_lines_for_callers_and_the_cap(lines: Lines, max_lines: int, dialed: int) -> None:
    state = state_of(20, CampaignPlan(max_lines=max_lines), lines)
    _, actions = decide(state, Tick(), TUESDAY)
    assert dials(actions) == list(range(1, dialed + 1))  # in list order


def test_a_call_ending_frees_its_line_for_the_next() -> None:
    state, actions = decide(state_of(5, CampaignPlan(max_lines=2)), Tick(), TUESDAY)
    assert dials(actions) == [1, 2]
    assert wake(actions).at is None  # no line: wait for a call to end
    state, actions = decide(state, Answered(1), TUESDAY)
    assert dials(actions) == [] and actions[0] == Save(replace(state.contacts[1]))
    assert state.contacts[1].status is S.IN_CALL
    state, actions = decide(state, Ended(1, Result.FINE), TUESDAY + timedelta(minutes=1))
    assert actions[0] == Save(state.contacts[1], Result.FINE)
    assert state.contacts[1].status is S.FINE and dials(actions) == [3]


def test_inbound_calls_arriving_hold_the_next_dials_back() -> None:
    state, _ = decide(state_of(10, lines=Lines(total=6, inbound_reserve=2)), Tick(), TUESDAY)
    state, actions = decide(state, Tick(lines=Lines(total=6, inbound_reserve=2, inbound_active=2)),
                            TUESDAY)
    assert dials(actions) == []  # four of ours and two callers: the reserve is all that is left
    state, actions = decide(state, Ended(1, Result.FINE), TUESDAY)
    assert dials(actions) == []  # the freed line goes to the reserve


def test_pacing_places_one_call_per_gap() -> None:
    state, actions = decide(state_of(3, CampaignPlan(pacing_sec=5)), Tick(), TUESDAY)
    assert dials(actions) == [1] and wake(actions) == WakeAt(TUESDAY + timedelta(seconds=5), "pacing")
    state, actions = decide(state, Tick(), TUESDAY + timedelta(seconds=4))
    assert dials(actions) == []
    state, actions = decide(state, Tick(), TUESDAY + timedelta(seconds=5))
    assert dials(actions) == [2]


@pytest.mark.parametrize(("now", "emergency", "opening"), [
    (datetime(2026, 6, 2, 8, 0), False, datetime(2026, 6, 2, 9, 0)),
    (datetime(2026, 6, 2, 19, 0), False, datetime(2026, 6, 3, 9, 0)),
    (datetime(2026, 6, 7, 10, 0), False, datetime(2026, 6, 8, 9, 0)),  # Sunday
    (datetime(2026, 5, 25, 10, 0), False, datetime(2026, 5, 26, 9, 0)),  # Whit Monday
    (datetime(2026, 6, 7, 20, 0), True, datetime(2026, 6, 8, 9, 0)),
])
def test_nothing_is_dialed_outside_the_window(now: datetime, emergency: bool, opening: datetime) -> None:
    _, actions = decide(state_of(3, CampaignPlan(emergency=emergency)), Tick(), now)
    assert dials(actions) == [] and wake(actions) == WakeAt(opening, "outside the calling window")


def test_an_emergency_calls_on_sunday_and_holidays() -> None:
    plan = CampaignPlan(emergency=True)
    for day in (datetime(2026, 6, 7, 10, 0), datetime(2026, 7, 14, 10, 0)):
        assert dials(decide(state_of(2, plan), Tick(), day)[1]) == [1, 2]


def test_the_do_not_call_list_is_honoured() -> None:
    state, actions = decide(state_of(3), Tick(do_not_call=frozenset({"key2"})), TUESDAY)
    assert dials(actions) == [1, 3]
    assert state.contacts[2].status is S.EXCLUDED
    assert Save(state.contacts[2]) in actions


def test_a_number_put_on_the_list_mid_campaign_is_not_retried() -> None:
    state, _ = decide(state_of(1), Tick(), TUESDAY)
    state, _ = decide(state, Ended(1, Result.BUSY), TUESDAY)
    state, actions = decide(state, Tick(do_not_call=frozenset({"key1"})), TUESDAY + timedelta(hours=2))
    assert dials(actions) == [] and state.contacts[1].status is S.EXCLUDED
    assert actions[-1] == Finished()


def test_never_two_calls_to_one_person_at_once() -> None:
    state, actions = decide(state_of(3), Tick(busy_elsewhere=frozenset({"key1"})), TUESDAY)
    assert dials(actions) == [2, 3]
    state, actions = decide(state, Tick(busy_elsewhere=frozenset()), TUESDAY)
    assert dials(actions) == [1]


def test_a_lost_claim_gives_the_try_back() -> None:
    state, _ = decide(state_of(1), Tick(), TUESDAY)
    assert state.contacts[1].attempts == 1
    state, actions = decide(state, Ended(1, Result.NOT_PLACED), TUESDAY)
    assert state.contacts[1].status is S.PENDING and state.contacts[1].attempts == 0
    assert dials(actions) == []  # the other campaign's call is on: wait for the next tick
    state, actions = decide(state, Tick(busy_elsewhere=frozenset()), TUESDAY + timedelta(seconds=30))
    assert dials(actions) == [1]


@pytest.mark.parametrize(("results", "final"), [
    ([Result.BUSY, Result.BUSY, Result.BUSY], S.NO_ANSWER),
    ([Result.NO_ANSWER, Result.BUSY, Result.NO_ANSWER], S.NO_ANSWER),
    ([Result.VOICEMAIL, Result.VOICEMAIL, Result.VOICEMAIL], S.VOICEMAIL),
    ([Result.NO_ANSWER, Result.NO_ANSWER, Result.VOICEMAIL], S.VOICEMAIL),
    ([Result.FAILED, Result.FAILED, Result.FAILED], S.FAILED),
    ([Result.BUSY, Result.FINE], S.FINE),
    ([Result.VOICEMAIL, Result.TRANSFERRED], S.TRANSFERRED),
    ([Result.NO_ANSWER, Result.NO_ANSWER, Result.YES], S.YES),
    ([Result.UNREACHABLE], S.FAILED),  # no number there: not retried
    ([Result.HUNG_UP], S.HUNG_UP),  # reached: not called again
    ([Result.NO_REPLY], S.NO_REPLY),
    ([Result.DELIVERED], S.DELIVERED),
    ([Result.NO], S.NO),
])
def test_retries_an_hour_apart_then_one_final_status(results: list[Result], final: ContactStatus) -> None:
    state, _ = decide(state_of(1), Tick(), TUESDAY)
    now = TUESDAY
    for number, result in enumerate(results, start=1):
        assert state.contacts[1].attempts == number
        state, actions = decide(state, Ended(1, result), now)
        if number < len(results):
            assert state.contacts[1].next_at == now + timedelta(hours=1)
            assert wake(actions) == WakeAt(now + timedelta(hours=1), "a retry is due")
            assert dials(decide(state, Tick(), now + timedelta(minutes=59))[1]) == []
            now += timedelta(hours=1)
            state, actions = decide(state, Tick(), now)
            assert dials(actions) == [1]
    assert state.contacts[1].status is final and actions[-1] == Finished()


def test_a_retry_falling_after_the_window_waits_for_the_morning() -> None:
    evening = datetime(2026, 6, 2, 18, 30)
    state, _ = decide(state_of(1), Tick(), evening)
    state, actions = decide(state, Ended(1, Result.NO_ANSWER), evening)
    assert wake(actions) == WakeAt(datetime(2026, 6, 3, 9, 0), "a retry is due")
    assert dials(decide(state, Tick(), datetime(2026, 6, 3, 9, 0))[1]) == [1]


def test_the_voicemail_message_is_left_once() -> None:
    state, actions = decide(state_of(1), Tick(), TUESDAY)
    assert actions[0].leave_voicemail
    state, _ = decide(state, Ended(1, Result.VOICEMAIL, voicemail_left=True), TUESDAY)
    state, actions = decide(state, Tick(), TUESDAY + timedelta(hours=1))
    assert dials(actions) == [1] and not actions[0].leave_voicemail


@pytest.mark.parametrize(("result", "extra"), [
    (Result.OPTED_OUT, DoNotCall("key1")),
    (Result.CALLBACK, Callback(1, Result.CALLBACK)),
])
def test_an_opt_out_and_a_callback_are_actions(result: Result, extra: object) -> None:
    state, _ = decide(state_of(1), Tick(), TUESDAY)
    state, actions = decide(state, Ended(1, result), TUESDAY)
    assert extra in actions and actions[-1] == Finished()


def test_a_late_report_changes_nothing() -> None:
    state, _ = decide(state_of(1), Tick(), TUESDAY)
    state, _ = decide(state, Ended(1, Result.FINE), TUESDAY)
    again, actions = decide(state, Ended(1, Result.BUSY), TUESDAY)
    assert again.contacts == state.contacts and actions == [Finished()]


@pytest.mark.parametrize(("contact", "plan", "status", "callback"), [
    (Contact(1, "k", S.DIALING, attempts=1), CampaignPlan(), S.PENDING, False),
    (Contact(1, "k", S.DIALING, attempts=3), CampaignPlan(), S.NO_ANSWER, False),
    (Contact(1, "k", S.IN_CALL, attempts=1), CampaignPlan(), S.INTERRUPTED, True),
    (Contact(1, "k", S.IN_CALL, attempts=2), CampaignPlan(callback_when_interrupted=False),
     S.INTERRUPTED, False),
    (Contact(1, "k", S.FINE, attempts=1), CampaignPlan(), S.FINE, False),
    (Contact(1, "k", S.PENDING, attempts=1, next_at=TUESDAY + timedelta(minutes=20)),
     CampaignPlan(), S.PENDING, False),
])
def test_a_restart_decides_the_fate_of_cut_calls(contact: Contact, plan: CampaignPlan,
                                                 status: ContactStatus, callback: bool) -> None:
    state, actions = decide(initial_state(plan, [contact]), Restarted(), TUESDAY)
    assert state.contacts[1].status is status
    assert dials(actions) == []  # nobody is called again at once
    assert (Callback(1, Result.INTERRUPTED) in actions) is callback
    assert state.contacts[1].attempts == contact.attempts  # the cut try counted


def test_the_first_decision_after_a_restart_knows_the_do_not_call_list() -> None:
    state, actions = decide(state_of(3), Restarted(do_not_call=frozenset({"key1"})), TUESDAY)
    assert dials(actions) == [2, 3] and state.contacts[1].status is S.EXCLUDED


def test_a_cut_dial_is_retried_an_hour_later_as_a_no_answer() -> None:
    state, actions = decide(initial_state(CampaignPlan(), [Contact(1, "k", S.DIALING, attempts=1)]),
                            Restarted(), TUESDAY)
    assert state.contacts[1].next_at == TUESDAY + timedelta(hours=1)
    assert Save(state.contacts[1], Result.NO_ANSWER) in actions


def test_a_whole_campaign_simulated_over_days_keeps_every_rule() -> None:
    """300 people, random outcomes, 8 lines: every dial in the window, within the caps, nobody
    dialed twice at once or after a final status, and everyone ends in one final status."""
    rng = random.Random(16)
    plan = CampaignPlan(max_lines=8, pacing_sec=2)
    lines = Lines(total=12, inbound_reserve=3)
    state = state_of(300, plan, lines)
    now = datetime(2026, 6, 6, 17, 0)  # a Saturday: the Sunday is skipped
    in_flight: dict[int, datetime] = {}
    finals_seen: set[int] = set()
    outcomes = [Result.FINE, Result.BUSY, Result.NO_ANSWER, Result.VOICEMAIL, Result.CALLBACK,
                Result.HUNG_UP, Result.OPTED_OUT, Result.FAILED]
    event: object = Tick()
    for _ in range(20_000):
        inbound = rng.randint(0, 4)
        if isinstance(event, Tick):
            event = Tick(lines=replace(lines, inbound_active=inbound))
        state, actions = decide(state, event, now)
        for action in actions:
            if isinstance(action, Dial):
                assert why_closed(plan.window, now, False) is None
                assert action.contact.id not in in_flight and action.contact.id not in finals_seen
                in_flight[action.contact.id] = now + timedelta(minutes=rng.randint(1, 4))
            if isinstance(action, Save) and action.contact.status in FINAL:
                finals_seen.add(action.contact.id)
        assert len(in_flight) <= plan.max_lines
        assert len(in_flight) <= lines.total - lines.inbound_reserve
        if any(isinstance(a, Finished) for a in actions):
            break
        next_wake = wake(actions).at
        ending = min(in_flight.items(), key=lambda item: item[1], default=None)
        if ending and (next_wake is None or ending[1] <= next_wake):
            now = max(now, ending[1])
            del in_flight[ending[0]]
            event = Ended(ending[0], rng.choice(outcomes))
        else:
            now = next_wake or now + timedelta(seconds=30)
            event = Tick()
    assert all(c.status in FINAL for c in state.contacts.values())
    assert finals_seen == set(state.contacts)
    assert now.date() == datetime(2026, 6, 8).date() and now.time() < time(19, 0)
