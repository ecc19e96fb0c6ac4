"""One call's conversation: NLU + policy + state, driven by text and events.

The only glue between the pure policy and the world: it owns the state, asks the clock
and the NLU, and returns what the bot says. Chat, scenarios and audio calls all use it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from loguru import logger

from callbot.conversation import prompts
from callbot.conversation.call_events import (
    CallClosed,
    CallEvent,
    CallEventSink,
    CallOpened,
    CallOutcome,
    LineEvent,
    LineEventKind,
    TurnTaken,
)
from callbot.conversation.errands import ErrandOptions, SmsNotSent
from callbot.conversation.model import (
    Action,
    CallerSaid,
    CallStarted,
    CallState,
    DtmfPressed,
    ErrandEffect,
    ErrandOutcome,
    Event,
    Hangup,
    Say,
    ServiceStopping,
    SilenceTimeout,
    SystemFailure,
    Tick,
    Transfer,
    TransferReason,
    TurnAction,
    Why,
)
from callbot.conversation.policy import PolicyContext, PolicyParams, decide
from callbot.conversation.turn import BotTurn
from callbot.errands.message import LeaveMessage
from callbot.kb.model import KnowledgeBase
from callbot.nlu.result import ParseResult
from callbot.nlu.text import clean_input

if TYPE_CHECKING:
    from callbot.errands.runner import ErrandRunner
    from callbot.store.message_audio import HeardAudio

T = TypeVar("T")
#: Effects and outcomes chained in one turn at most (search → offer is one; book → SMS two).
MAX_ERRAND_STEPS = 4
#: Sentences whose audio is kept for a message still to be left (said, then the callback asked).
MAX_HEARD = 3


class StageRunner(Protocol):
    """Runs one stage of a turn (``"nlu"``, ``"kb"``): ``fn(*args)``, however it likes."""

    def __call__(self, stage: str, fn: Callable[..., T], /, *args: Any) -> T: ...


def run_here(stage: str, fn: Callable[..., T], /, *args: Any) -> T:
    """The plain stage runner: call it now, in this thread."""
    return fn(*args)


@dataclass
class Conversation:
    """Drives the policy for one call and reports every step as a typed ``CallEvent``."""

    parse_text: Callable[[str], ParseResult]
    knowledge_base: Callable[[], KnowledgeBase]
    clock: Callable[[], datetime]
    params: PolicyParams = field(default_factory=PolicyParams)
    state: CallState = field(default_factory=CallState)
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    channel: str = "chat"
    caller_id: str | None = None
    sinks: list[CallEventSink] = field(default_factory=list)
    outcome: CallOutcome | None = None
    opened: CallOpened | None = field(default=None, repr=False)
    closed: CallClosed | None = field(default=None, repr=False)
    #: How a stage ("nlu", "kb") runs: called here by default (chat, scenarios); audio calls
    #: put it under a deadline on a thread (``callbot.hangs.deadline_runner``), so a stage that
    #: hangs raises like one that crashed, and this class stays free of threads.
    run_stage: StageRunner = field(default=run_here, repr=False)
    #: What the call's events are stamped with when ``clock`` is not the real time (``chat
    #: --now`` fixes it for the opening hours, the call log keeps the real one); None: ``clock``.
    stamp_clock: Callable[[], datetime] | None = field(default=None, repr=False)
    #: carries the errand dialogues' effects out (calendar, SMS); None: answering only
    errands: ErrandRunner | None = field(default=None, repr=False)
    #: the audio of the last sentences heard, by their text (recording on: a message's audio)
    _heard: dict[str, HeardAudio] = field(default_factory=dict, repr=False)

    @property
    def ended(self) -> bool:
        return self.state.ended

    def _stamp(self) -> datetime:
        return (self.stamp_clock or self.clock)()

    def _emit(self, event: CallEvent) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception as exc:  # a broken log must never break the call
                logger.opt(exception=exc).error(f"call event sink failed on {type(event).__name__}")

    def _run(self, event: Event, caller: str | None = None,
             parse: ParseResult | None = None,
             latencies_ms: dict[str, float] | None = None) -> BotTurn:
        try:
            options = self.errands.options(self.caller_id) if self.errands else ErrandOptions()
            context = PolicyContext(self.knowledge_base(), self.params, options)
            if isinstance(event, CallerSaid):  # the only event answered from the KB
                self.state, actions = self.run_stage("kb", decide, self.state, event,
                                                     self.clock(), context)
            else:
                self.state, actions = decide(self.state, event, self.clock(), context)
            actions = self._carry_out_errands(actions, context)
        except Exception as exc:  # the policy is pure: what raises in it is the knowledge base
            logger.opt(exception=exc).error("knowledge base failed; handing the call to a person")
            if isinstance(event, SystemFailure):  # even the transfer decision failed
                self.state, actions = _failure_transfer(self.state)
            else:
                return self.failure("kb", _describe(exc), caller, parse)
        turn = replace(_turn(caller, actions, parse), latencies_ms=latencies_ms or {})
        if turn.says or turn.transfer or turn.hangup:
            self._emit(TurnTaken(self.call_id, self._stamp(), turn, turn.latencies_ms))
        if self.state.ended and self.outcome is None:
            failed = isinstance(event, SystemFailure)
            outcome = (CallOutcome.ERROR if failed and not turn.transfer else
                       CallOutcome.TRANSFERRED if turn.transfer else
                       CallOutcome.ABANDONED if turn.hangup and turn.hangup.reason == "silence"
                       else CallOutcome.RESOLVED)
            reason = str(turn.transfer.reason) if turn.transfer else None
            if failed and reason:  # the call log says what failed: "failure:stt"
                reason = f"{reason}:{event.component}"
            self.close(outcome, reason, turn.hangup.reason if turn.hangup else "")
        return turn

    def _carry_out_errands(self, actions: list[Action], context: PolicyContext) -> list[Action]:
        """Carry out what the errand dialogue asked for (search the calendar, book, send the
        SMS) and let it answer, until it has something to say: one turn for the caller."""
        done: list[Action] = []
        for _ in range(MAX_ERRAND_STEPS):
            effects = [a.effect for a in actions if isinstance(a, ErrandEffect)]
            spoken = [a for a in actions if not isinstance(a, ErrandEffect)]
            done += spoken
            if not effects or self.errands is None:
                break
            actions = []
            for effect in effects:
                heard = self._heard.get(effect.text) if isinstance(effect, LeaveMessage) else None
                outcome = self.errands.carry_out(effect, self.clock(), self.caller_id,
                                                 self.call_id, heard)
                if isinstance(outcome, SmsNotSent):  # unsay "je vous l'envoie": it did not leave
                    done = [a for a in done if not (isinstance(a, Say) and a in spoken)]
                if outcome is not None:
                    self.state, more = decide(self.state, ErrandOutcome(outcome), self.clock(),
                                              context)
                    actions += more
        return done

    def record(self, kind: LineEventKind, detail: str = "") -> None:
        """Something happened on the line (barge-in, key, silence, error): log it, no turn."""
        self._emit(LineEvent(self.call_id, self._stamp(), kind, detail))

    def open(self) -> None:
        """Start the call record, once: as soon as the call is admitted, so a caller who hangs
        up before the greeting is still logged (the close must never come before it)."""
        if self.opened is None:
            self.opened = CallOpened(self.call_id, self._stamp(), self.channel, self.caller_id)
            self._emit(self.opened)

    def start(self) -> BotTurn:
        """The greeting; nothing to say if the caller already hung up."""
        self.open()
        if self.outcome is not None:
            return _turn(None, [], None)
        return self._run(CallStarted())

    def close(self, outcome: CallOutcome, transfer_reason: str | None = None,
              detail: str = "") -> None:
        """End the call record once (the caller hung up, the bot ended it, or a failure)."""
        if self.outcome is not None:
            return
        self.open()
        self.outcome = outcome
        self.closed = CallClosed(self.call_id, self._stamp(), outcome, transfer_reason, detail)
        self._emit(self.closed)

    def transfer_failed(self, detail: str) -> None:
        """The telephony learnt after the close that the hand-over did not happen (a refused
        SIP REFER): the record, closed "transferred", is closed again as ``transfer_failed``."""
        if self.closed is None or self.outcome is not CallOutcome.TRANSFERRED:
            return
        self.outcome = CallOutcome.TRANSFER_FAILED
        self.closed = replace(self.closed, at=self._stamp(), outcome=self.outcome, detail=detail)
        self._emit(self.closed)

    def hear(self, text: str, asr_confidence: float | None = None,
             latencies_ms: dict[str, float] | None = None,
             heard: HeardAudio | None = None) -> BotTurn:
        """The caller said ``text``; ``heard``: what it sounded like (given by a voice call
        only when recording is on, for a message's audio)."""
        text = clean_input(text)
        latencies = dict(latencies_ms or {})
        started = time.perf_counter()
        try:
            parse = self.run_stage("nlu", self.parse_text, text)
        except Exception as exc:  # any NLU failure must end with a person, not dead air
            logger.opt(exception=exc).error("NLU failed; handing the call to a person")
            return self.failure("nlu", _describe(exc), text)
        latencies["nlu"] = round((time.perf_counter() - started) * 1000, 2)
        if heard is not None:  # a message says which sentence it was: its text
            self._heard = {**dict(list(self._heard.items())[1 - MAX_HEARD:]),
                           text: heard, parse.text: heard}
        return self._run(CallerSaid(parse, asr_confidence), text, parse, latencies)

    def dtmf(self, digit: str) -> BotTurn:
        return self._run(DtmfPressed(digit), f"<dtmf {digit}>")

    def silence(self) -> BotTurn:
        return self._run(SilenceTimeout(), "<silence>")

    def failure(self, component: str, detail: str = "", caller: str | None = None,
                parse: ParseResult | None = None) -> BotTurn:
        """A part of the call path failed: log which in the call, then hand it to a person."""
        self.record(LineEventKind.ERROR, f"{component}: {detail}" if detail else component)
        return self._run(SystemFailure(component), caller, parse)

    def shutdown(self) -> BotTurn:
        """The process stops and the call is still on: hand it to a person (reason ``shutdown``)."""
        return self._run(ServiceStopping())

    def tick(self) -> BotTurn:
        """Called about once a second by the audio layer: enforces the call time limit."""
        return self._run(Tick())


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _failure_transfer(state: CallState) -> tuple[CallState, list[Action]]:
    """The transfer after a failure when the policy itself cannot run (its data is broken)."""
    say = Say(prompts.TRANSFER_AFTER_FAILURE, TurnAction.TRANSFER, Why())
    return replace(state, ended=True, last_say=say), [say, Transfer(TransferReason.FAILURE)]


def _turn(caller: str | None, actions: list[Action], parse: ParseResult | None) -> BotTurn:
    says = tuple(a for a in actions if isinstance(a, Say))
    transfer = next((a for a in actions if isinstance(a, Transfer)), None)
    hangup = next((a for a in actions if isinstance(a, Hangup)), None)
    return BotTurn(caller, says, transfer, hangup, parse)
