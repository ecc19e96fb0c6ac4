"""Typed events in, typed actions out, and the frozen state of one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from callbot.nlu.result import ParseResult


# --- events: what happened on the line -------------------------------------------------
@dataclass(frozen=True)
class CallStarted:
    pass


@dataclass(frozen=True)
class CallerSaid:
    parse: ParseResult
    asr_confidence: float | None = None  # mean word confidence, when speech recognition gives it


@dataclass(frozen=True)
class DtmfPressed:
    digit: str


@dataclass(frozen=True)
class SilenceTimeout:
    pass


@dataclass(frozen=True)
class SystemFailure:
    """A part of the call path failed (STT, NLU, TTS, knowledge base…)."""

    component: str


@dataclass(frozen=True)
class ServiceStopping:
    """The process is stopping and this call outlived the drain: a person takes it over."""


@dataclass(frozen=True)
class Tick:
    """Time passed with nothing said: lets the policy enforce the call time limit."""


@dataclass(frozen=True)
class ErrandOutcome:
    """What carrying out an errand's effect gave (slots found, booked, an error…): the
    conversation feeds it back so the errand dialogue goes on (``callbot/errands``)."""

    outcome: object


Event = (CallStarted | CallerSaid | DtmfPressed | SilenceTimeout | SystemFailure | ServiceStopping
         | Tick | ErrandOutcome)


# --- actions: what the bot does --------------------------------------------------------
class TurnAction(StrEnum):
    """The ``action`` field of ``callbot chat --script`` (the contract)."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    TRANSFER = "transfer"
    HANGUP = "hangup"
    REPROMPT = "reprompt"


class TransferReason(StrEnum):
    CALLER_ASKED = "caller_asked"
    DTMF_ZERO = "dtmf_zero"
    NOT_UNDERSTOOD = "not_understood"
    OUT_OF_SCOPE = "out_of_scope"
    TIME_LIMIT = "time_limit"
    FAILURE = "failure"
    SHUTDOWN = "shutdown"  # the process stopped (SIGTERM) before the call ended


@dataclass(frozen=True)
class Why:
    """Why the bot said what it said: carried into the call log."""

    intent: str | None = None
    confidence: float | None = None
    kb_entry: str | None = None  # "topic" or "topic/entry"
    kb_revision: str | None = None
    score: float | None = None  # the retriever's similarity of the closest question
    runner_up: str | None = None  # the next topic, with its confidence: how close it was
    runner_up_confidence: float | None = None


@dataclass(frozen=True)
class Say:
    text: str
    action: TurnAction
    why: Why = field(default_factory=Why)


@dataclass(frozen=True)
class Transfer:
    reason: TransferReason


@dataclass(frozen=True)
class Hangup:
    reason: str


@dataclass(frozen=True)
class ErrandEffect:
    """Something the errand dialogue needs done outside (search the calendar, book, send an
    SMS): the conversation carries it out and answers with an ``ErrandOutcome``."""

    effect: object


Action = Say | Transfer | Hangup | ErrandEffect


# --- state -----------------------------------------------------------------------------
class ErrandState(Protocol):
    @property
    def finished(self) -> bool: ...


class Expecting(StrEnum):
    """What the bot's last question waits for."""

    QUESTION = "question"
    DETAILS = "details"  # "voulez-vous plus de détails ?"
    ANYTHING_ELSE = "anything_else"
    CLARIFICATION = "clarification"
    TRANSFER_OFFER = "transfer_offer"


@dataclass(frozen=True)
class CallState:
    started_at: datetime | None = None
    ended: bool = False
    expecting: Expecting = Expecting.QUESTION
    topic: str | None = None  # last topic answered (for details)
    entry: str | None = None  # the entry of that topic answered, if one was
    details_left: tuple[str, ...] = ()  # pieces of the details not read yet
    candidates: tuple[str, ...] = ()  # topics named in a clarification
    question: ParseResult | None = None  # the question being clarified (its place, its day)
    misunderstandings: int = 0  # in a row
    silences: int = 0  # in a row
    last_say: Say | None = None
    answers_given: int = 0
    #: the errand in progress (``callbot.errands.booking.BookingState``): it hears the caller
    #: first; typed loosely so this module stays below the errands package
    errand: ErrandState | None = None
