"""One outbound call: ``decide(state, event, now, ctx) → (state, actions)``, pure and clock-free.

The same shape as the inbound policy (``callbot.conversation.policy``), for a call the town
places: say who is calling and that it is a machine, deliver the message, ask the question,
and act on the answer. When in doubt, a person: on a heatwave check a "non", a sign of
distress, "j'ai besoin d'aide", key 0, or no usable answer after two prompts puts the call
through to the agent on duty, or, when nobody takes it, tells the person an agent will call
back (the runner files the callback task). "Ne plus m'appeler" ends the call with an opt-out.
An answering machine gets the short voicemail, once. The call ends with ``End``, whose result
the scheduler turns into the contact's status; a goodbye is said *before* the ``End`` of a
decision, so a hang-up during it leaves the answer as given (the runner keeps that ``End``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from callbot.campaigns import wording
from callbot.campaigns.model import CampaignKind, Result
from callbot.campaigns.replies import DTMF, Heard, Reply, classify

#: The transfer reason of a person who needs someone (the inbound call's reasons are others).
NEEDS_HELP = "needs_help"


class Phase(StrEnum):
    START = "start"
    QUESTION = "question"  # the question was asked: waiting for the answer
    CLOSING = "closing"  # a reminder was said: "répéter" or help, else goodbye
    TRANSFERRING = "transferring"
    DONE = "done"


@dataclass(frozen=True)
class OutboundContext:
    """What the call says, for whom (the message already holds the person's fields)."""

    kind: CampaignKind
    town: str
    message: str
    question: str  # with its yes/no hint; "" for a reminder
    callback_number: str  # the town's number, as said: "02 40 12 34 00"
    name: str = ""
    transfer: bool = True  # put a person in need through (the line knows where); else callbacks
    leave_voicemail: bool = True
    listen_sec: float = 6.0
    max_prompts: int = 2  # the question asked this many times without an answer: give up
    max_repeats: int = 2
    max_call_sec: float = 300.0


@dataclass(frozen=True)
class OutboundState:
    phase: Phase = Phase.START
    started_at: datetime | None = None
    prompts: int = 0  # times the question (or the reminder's closing) was asked
    repeats: int = 0
    outcome: Result | None = None  # decided, the goodbye maybe still being said
    why: str = ""


# --- events ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PersonAnswered:
    pass


@dataclass(frozen=True)
class MachineAnswered:
    """Answering-machine detection heard a recorded greeting."""


@dataclass(frozen=True)
class PersonSaid:
    text: str


@dataclass(frozen=True)
class KeyPressed:
    digit: str


@dataclass(frozen=True)
class NothingHeard:
    """The listening time passed in silence."""


@dataclass(frozen=True)
class LineDropped:
    """The person hung up (or the line went)."""


@dataclass(frozen=True)
class TransferEnded:
    connected: bool  # the agent took the call


Event = (PersonAnswered | MachineAnswered | PersonSaid | KeyPressed | NothingHeard | LineDropped
         | TransferEnded)


# --- actions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Speak:
    text: str


@dataclass(frozen=True)
class Listen:
    seconds: float


@dataclass(frozen=True)
class PutThrough:
    """Transfer the person to the agent on duty; ``reason`` goes to the line and the log."""

    reason: str


@dataclass(frozen=True)
class End:
    """Hang up (unless the line is gone or handed over) and report the attempt's result."""

    result: Result
    why: str = ""
    voicemail_left: bool = False


Action = Speak | Listen | PutThrough | End
Decision = tuple[OutboundState, list[Action]]


def decide(state: OutboundState, event: Event, now: datetime, ctx: OutboundContext) -> Decision:
    """Everything the bot does in answer to one event of the call."""
    if state.phase is Phase.DONE:
        return state, []
    match event:
        case PersonAnswered():
            return _open(replace(state, started_at=now), ctx)
        case MachineAnswered():
            if not ctx.leave_voicemail:
                return _end(state, Result.VOICEMAIL, "answering machine, message left before")
            say = Speak(wording.voicemail(ctx.kind, ctx.town, ctx.callback_number))
            done, actions = _end(state, Result.VOICEMAIL, "answering machine, message left", True)
            return done, [say, *actions]
        case LineDropped() if state.phase is Phase.TRANSFERRING:  # they needed someone
            return _end(state, Result.CALLBACK, f"{state.why}; hung up while being put through")
        case LineDropped():
            return _end(state, Result.HUNG_UP, f"hung up ({state.phase})")
        case TransferEnded(connected=True):
            return _end(state, Result.TRANSFERRED, state.why)
        case TransferEnded():
            return _callback(state, f"{state.why}; nobody took the transfer")
    if state.started_at and (now - state.started_at).total_seconds() > ctx.max_call_sec:
        return _unanswered(state, ctx, "the call ran too long")
    match event:
        case PersonSaid(text=text):
            return _answer(state, classify(text), ctx)
        case KeyPressed(digit=digit):
            return _answer(state, Heard(DTMF.get(digit, Reply.UNKNOWN), f"key {digit}"), ctx)
        case NothingHeard():
            return _reprompt(state, ctx, wording.NOT_HEARD, "silence")
    return state, []


def _open(state: OutboundState, ctx: OutboundContext) -> Decision:
    said = [Speak(wording.disclosure(ctx.town, ctx.name)), Speak(ctx.message)]
    if ctx.kind is CampaignKind.REMINDER:
        phase, last = Phase.CLOSING, wording.REMINDER_CLOSING
    else:
        phase, last = Phase.QUESTION, ctx.question
    return (replace(state, phase=phase, prompts=1),
            [*said, Speak(last), Listen(ctx.listen_sec)])


def _ask_again(state: OutboundState, ctx: OutboundContext, before: str) -> list[Action]:
    last = wording.REMINDER_CLOSING if state.phase is Phase.CLOSING else ctx.question
    return [Speak(f"{before} {last}".strip()), Listen(ctx.listen_sec)]


def _answer(state: OutboundState, heard: Heard, ctx: OutboundContext) -> Decision:
    reply, why = heard.reply, f"{heard.reply}: {heard.cue}" if heard.cue else str(heard.reply)
    if state.phase is Phase.TRANSFERRING:
        return state, []
    if reply is Reply.OPT_OUT:
        return _goodbye(state, Result.OPTED_OUT, why, wording.OPTED_OUT)
    if reply is Reply.HELP or (reply is Reply.NO and ctx.kind is CampaignKind.HEATWAVE):
        return _needs_help(state, ctx, why)
    if reply is Reply.REPEAT and state.repeats < ctx.max_repeats:
        state = replace(state, repeats=state.repeats + 1)
        return state, [Speak(f"{wording.REPEATING} {ctx.message}"), *_ask_again(state, ctx, "")]
    if state.phase is Phase.CLOSING:  # a reminder: anything else ends it
        return _goodbye(state, Result.DELIVERED, why, wording.DELIVERED_GOODBYE)
    if ctx.kind is CampaignKind.HEATWAVE and reply in (Reply.YES, Reply.FINE):
        return _goodbye(state, Result.FINE, why,
                        wording.FINE_GOODBYE.format(callback=ctx.callback_number))
    if ctx.kind is CampaignKind.QUESTION and reply in (Reply.YES, Reply.NO):
        return _goodbye(state, Result(reply.value), why, wording.NOTED_GOODBYE)
    return _reprompt(state, ctx, wording.NOT_UNDERSTOOD, why)


def _reprompt(state: OutboundState, ctx: OutboundContext, before: str, why: str) -> Decision:
    if state.phase is Phase.TRANSFERRING:
        return state, []
    if state.phase is Phase.CLOSING:
        return _goodbye(state, Result.DELIVERED, why, wording.DELIVERED_GOODBYE)
    if state.prompts >= ctx.max_prompts:
        return _unanswered(state, ctx, f"no answer after {state.prompts} prompts ({why})")
    state = replace(state, prompts=state.prompts + 1)
    return state, _ask_again(state, ctx, before)


def _unanswered(state: OutboundState, ctx: OutboundContext, why: str) -> Decision:
    """No usable answer: on a heatwave check a person must find out why."""
    if ctx.kind is CampaignKind.HEATWAVE:
        return _needs_help(state, ctx, why)
    if ctx.kind is CampaignKind.REMINDER:
        return _goodbye(state, Result.DELIVERED, why, wording.DELIVERED_GOODBYE)
    return _goodbye(state, Result.NO_REPLY, why,
                    wording.NO_REPLY_GOODBYE.format(callback=ctx.callback_number))


def _needs_help(state: OutboundState, ctx: OutboundContext, why: str) -> Decision:
    if not ctx.transfer:
        return _callback(state, f"{why}; no agent on duty")
    return (replace(state, phase=Phase.TRANSFERRING, why=why),
            [Speak(wording.TRANSFER), PutThrough(NEEDS_HELP)])


def _callback(state: OutboundState, why: str) -> Decision:
    return _goodbye(state, Result.CALLBACK, why, wording.CALLBACK)


def _goodbye(state: OutboundState, result: Result, why: str, text: str) -> Decision:
    """Say goodbye, then end (a hang-up during the goodbye changes nothing)."""
    done, actions = _end(state, result, why)
    return done, [Speak(text), *actions]


def _end(state: OutboundState, result: Result, why: str, voicemail_left: bool = False) -> Decision:
    return (replace(state, phase=Phase.DONE, outcome=result, why=why),
            [End(result, why, voicemail_left)])
