"""A message left for a closed department, as a clock-free state machine.

When the caller wants a person and nobody is there, the bot offers to take a message: it
listens to one sentence, offers a callback at the calling number (when it is known), and asks
the runner to leave it (``LeaveMessage``: e-mailed to the service's ``messages_to`` and kept
in « Messages et rappels »). The same ``step(state, event, now)`` shape as the booking.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from callbot.conversation.model import Say, TurnAction
from callbot.errands.when import parse_yes_no
from callbot.kb.french import with_preposition

OFFER = "Voulez-vous laisser un message ?"
LISTEN = "Je vous écoute : dites votre message, en une ou deux phrases."
ASK_CALLBACK = "Voulez-vous être rappelé au numéro qui appelle ?"
LEFT = "Votre message est transmis {service}{callback}."
CALLBACK_SAID = ", qui vous rappellera"
NOT_LEFT = "Je n'ai pas pu transmettre votre message ; rappelez au {phone} aux heures d'ouverture."
NOT_TAKEN = "D'accord."
YES_OR_NO = "Oui ou non ?"
#: A message shorter than this many characters is asked again (a "euh" is no message).
MIN_MESSAGE_CHARS = 8


class Step(StrEnum):
    OFFERED = "offered"
    LISTENING = "listening"
    CALLBACK = "callback"
    LEAVING = "leaving"
    DONE = "done"


@dataclass(frozen=True)
class CallerText:
    text: str


@dataclass(frozen=True)
class MessageLeft:
    """The runner's outcome: mailed and kept (``ok``), or not."""

    ok: bool


@dataclass(frozen=True)
class LeaveMessage:
    """E-mail the message to ``to`` and keep it for the agents' list."""

    service: str
    to: str
    text: str
    wants_callback: bool


@dataclass(frozen=True)
class MessageState:
    step: Step
    service: str  # the knowledge base's service id
    service_name: str  # "le service état civil": said when the message is left
    to: str  # its messages_to address
    phone: str  # the service's number, said if the message cannot be left
    can_call_back: bool  # the calling number is known
    text: str = ""

    @property
    def finished(self) -> bool:
        return self.step is Step.DONE


Decision = tuple[MessageState, list[Say], list[LeaveMessage]]


def offer(service: str, service_name: str, to: str, phone: str,
          can_call_back: bool) -> MessageState:
    """The state after the bot said ``OFFER`` (the policy says it after the closed hours)."""
    return MessageState(Step.OFFERED, service, service_name, to, phone, can_call_back)


def step(state: MessageState, event: CallerText | MessageLeft, now: datetime) -> Decision:
    if state.finished:
        return state, [], []
    if isinstance(event, MessageLeft):
        if state.step is not Step.LEAVING:
            return state, [], []
        done = replace(state, step=Step.DONE)
        if not event.ok:
            return done, [_say(NOT_LEFT.format(phone=state.phone))], []
        to = with_preposition("à", state.service_name)  # "au service…", "à l'accueil…"
        return done, [_say(LEFT.format(service=to, callback=_callback(state)))], []
    answer = parse_yes_no(event.text)
    match state.step:
        case Step.OFFERED if answer is True:
            return replace(state, step=Step.LISTENING), [_say(LISTEN)], []
        case Step.OFFERED if answer is False:
            return replace(state, step=Step.DONE), [_say(NOT_TAKEN)], []
        case Step.OFFERED:
            return state, [_say(YES_OR_NO, TurnAction.CLARIFY)], []
        case Step.LISTENING if len(event.text.strip()) < MIN_MESSAGE_CHARS:
            return state, [_say(LISTEN, TurnAction.CLARIFY)], []
        case Step.LISTENING if state.can_call_back:
            return replace(state, step=Step.CALLBACK, text=event.text), [_say(ASK_CALLBACK)], []
        case Step.LISTENING:
            return _leave(replace(state, text=event.text), wants_callback=False)
        case Step.CALLBACK if answer is None:
            return state, [_say(YES_OR_NO, TurnAction.CLARIFY)], []
        case Step.CALLBACK:
            return _leave(state, wants_callback=bool(answer))
    return state, [], []


def _leave(state: MessageState, wants_callback: bool) -> Decision:
    leaving = replace(state, step=Step.LEAVING, can_call_back=wants_callback)
    return leaving, [], [LeaveMessage(state.service, state.to, state.text, wants_callback)]


def _callback(state: MessageState) -> str:
    return CALLBACK_SAID if state.can_call_back else ""


def _say(text: str, action: TurnAction = TurnAction.ANSWER) -> Say:
    return Say(text, action)
