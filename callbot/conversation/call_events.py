"""Typed call events: what the call log and the ops dashboard are fed with.

The conversation emits them; storage and web layers only forward and store them.
``caller_id`` is the raw number: whoever stores it must pseudonymise it first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from callbot.conversation.turn import BotTurn


class CallOutcome(StrEnum):
    RESOLVED = "resolved"
    TRANSFERRED = "transferred"
    TRANSFER_FAILED = "transfer_failed"  # the telephony refused the hand-over after the close
    ABANDONED = "abandoned"
    ERROR = "error"


class LineEventKind(StrEnum):
    BARGE_IN = "barge_in"
    DTMF = "dtmf"
    SILENCE = "silence"
    ERROR = "error"


@dataclass(frozen=True)
class CallOpened:
    call_id: str
    at: datetime
    channel: str  # chat, websocket, audiosocket, sip…
    caller_id: str | None = None


@dataclass(frozen=True)
class TurnTaken:
    call_id: str
    at: datetime
    turn: BotTurn
    latencies_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LineEvent:
    call_id: str
    at: datetime
    kind: LineEventKind
    detail: str = ""


@dataclass(frozen=True)
class CallClosed:
    call_id: str
    at: datetime
    outcome: CallOutcome
    transfer_reason: str | None = None
    detail: str = ""


CallEvent = CallOpened | TurnTaken | LineEvent | CallClosed
CallEventSink = Callable[[CallEvent], None]
