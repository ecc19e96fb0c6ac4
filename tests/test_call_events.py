"""The conversation reports every call as typed events, and a broken sink never breaks it."""

from __future__ import annotations

from callbot.brain import Brain
from callbot.conversation.call_events import (
    CallClosed,
    CallEvent,
    CallOpened,
    CallOutcome,
    TurnTaken,
)
from tests.conftest import at


def _conversation(brain: Brain, events: list[CallEvent]):  # noqa: ANN202
    conversation = brain.conversation(lambda: at("2026-12-01T10:30"))
    conversation.sinks.append(events.append)
    return conversation


def test_a_transferred_call_is_opened_turned_and_closed(brain: Brain) -> None:
    events: list[CallEvent] = []
    conversation = _conversation(brain, events)
    conversation.start()
    conversation.hear("je voudrais parler à quelqu'un s'il vous plaît")
    kinds = [type(e) for e in events]
    assert kinds == [CallOpened, TurnTaken, TurnTaken, CallClosed]
    closed = events[-1]
    assert isinstance(closed, CallClosed) and closed.outcome is CallOutcome.TRANSFERRED
    assert closed.transfer_reason == "caller_asked"
    assert {e.call_id for e in events} == {conversation.call_id}


def test_caller_hanging_up_is_abandoned_once(brain: Brain) -> None:
    events: list[CallEvent] = []
    conversation = _conversation(brain, events)
    conversation.start()
    conversation.close(CallOutcome.ABANDONED)
    conversation.close(CallOutcome.RESOLVED)
    assert [e.outcome for e in events if isinstance(e, CallClosed)] == [CallOutcome.ABANDONED]


def test_failing_sink_does_not_break_the_call(brain: Brain) -> None:
    events: list[CallEvent] = []
    conversation = _conversation(brain, events)

    def broken(event: CallEvent) -> None:
        raise RuntimeError("database went away")

    conversation.sinks.insert(0, broken)
    greeting = conversation.start()
    assert "assistant automatique" in greeting.text and len(events) == 2


def test_a_refused_hand_over_closes_the_record_again_as_transfer_failed(brain: Brain) -> None:
    """The SIP layer learns after the close that the PBX refused the REFER."""
    events: list[CallEvent] = []
    conversation = _conversation(brain, events)
    conversation.start()
    conversation.hear("je voudrais parler à quelqu'un s'il vous plaît")
    conversation.transfer_failed("sip: REFER answered 603")
    conversation.transfer_failed("again")  # once only
    closes = [e for e in events if isinstance(e, CallClosed)]
    assert [(c.outcome, c.transfer_reason, c.detail) for c in closes] == [
        (CallOutcome.TRANSFERRED, "caller_asked", ""),
        (CallOutcome.TRANSFER_FAILED, "caller_asked", "sip: REFER answered 603")]
    resolved: list[CallEvent] = []
    other = _conversation(brain, resolved)
    other.start()
    other.close(CallOutcome.ABANDONED)
    other.transfer_failed("no transfer was asked")  # not transferred: nothing to correct
    assert [e.outcome for e in resolved if isinstance(e, CallClosed)] == [CallOutcome.ABANDONED]
