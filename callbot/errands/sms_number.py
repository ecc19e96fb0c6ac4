"""Which number an SMS goes to, when it is not the calling one: asked, read back, confirmed.

The calling number is hidden, or a landline, or the caller said "sur un autre numéro": the
bot asks for a mobile number, reads what it understood back in pairs ("zéro six, douze,
trente-quatre…") and sends only after a yes. A number given in two goes is put together, a
landline is refused (no SMS reaches it), a "non" asks again, a "non, c'est le 07…" reads the
new one back. Clock-free, in the shape of the other errands: ``step(state, event, now) →
(state, sayings, effects)``; the effect is the SMS it was given (a booking's confirmation, a
topic's link), addressed to the confirmed number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from callbot.conversation.model import Say, TurnAction
from callbot.errands.booking import Handover, HandoverReason, asks_person, gives_up
from callbot.errands.when import parse_yes_no
from callbot.spoken_phone import Reading, in_pairs, international, read_number

#: Misunderstood numbers in a row before the bot gives up on the SMS (the call goes on).
MAX_TRIES = 3

HOW = "Dites-le deux chiffres par deux chiffres, par exemple zéro six, douze, trente-quatre."
ASK = f"À quel numéro de portable voulez-vous le recevoir ? {HOW}"
HIDDEN = "Votre numéro ne s'affiche pas."
LANDLINE = "Le numéro qui appelle n'est pas un portable."
REST = "Oui, et la suite ?"
READ_BACK = "Je répète : {pairs}. C'est bien ça ?"
READ_BACK_AGAIN = "C'est bien le {pairs} ? Oui ou non ?"
NOT_MOBILE = ("Ce numéro n'est pas un portable : un SMS ne peut pas y arriver. À quel numéro "
              "de portable ?")
NOT_UNDERSTOOD = f"Je n'ai pas compris le numéro. {HOW}"
WRONG = "D'accord. Quel est le bon numéro ?"
GIVE_UP = "D'accord, je n'envoie pas de SMS."
TOO_HARD = "Je n'arrive pas à noter ce numéro ; je n'envoie pas de SMS."
TO_A_PERSON = "Je vous passe un agent."


class Why(StrEnum):
    """Why the number is asked: said first, so the caller knows why."""

    HIDDEN = "hidden"
    LANDLINE = "landline"
    ELSEWHERE = "elsewhere"  # the caller asked for another number


class Step(StrEnum):
    ASK = "ask"
    CONFIRM = "confirm"
    DONE = "done"


class Sms(Protocol):
    """An SMS effect (``booking.SendSms``, ``conversation.errands.SendLink``)."""

    @property
    def text(self) -> str: ...

    @property
    def to(self) -> str: ...


@dataclass(frozen=True)
class CallerText:
    text: str


@dataclass(frozen=True)
class NumberState:
    step: Step
    send: Sms  # sent, addressed, once the number is confirmed
    sending: str  # said as it goes: "Je vous l'envoie."
    said: str = ""  # the digits heard so far (a number said in two goes)
    number: str = ""  # national, being confirmed
    tries: int = 0

    @property
    def finished(self) -> bool:
        return self.step is Step.DONE


Decision = tuple[NumberState, list[Say], list[object]]


def start(send: Sms, sending: str, why: Why, said: str = "") -> Decision:
    """Ask for the number; one already in ``said`` ("envoyez-le au 06…") is read back."""
    state = NumberState(Step.ASK, send, sending)
    found = read_number(said) if said else None
    if found is not None and found.reading is Reading.NUMBER:
        return _heard(state, said)
    intro = {Why.HIDDEN: HIDDEN, Why.LANDLINE: LANDLINE}.get(why)
    return state, [_say(f"{intro} {ASK}" if intro else ASK)], []


def step(state: NumberState, event: object, now: datetime) -> Decision:
    """Everything the dialogue does in answer to one sentence (``now`` for the shape only)."""
    if state.finished or not isinstance(event, CallerText):
        return state, [], []
    text = event.text
    if asks_person(text):
        return (replace(state, step=Step.DONE), [Say(TO_A_PERSON, TurnAction.TRANSFER)],
                [Handover(HandoverReason.CALLER_ASKED)])
    if state.step is Step.CONFIRM:
        return _on_confirm(state, text)
    found = read_number(text, state.said)
    if found.reading is Reading.NONE and (gives_up(text) or parse_yes_no(text) is False):
        return replace(state, step=Step.DONE), [_say(GIVE_UP)], []
    return _heard(state, text)


def _heard(state: NumberState, text: str) -> Decision:
    """A sentence that should hold the number, or its end."""
    found = read_number(text, state.said)
    if found.reading is Reading.PARTIAL:
        return replace(state, said=found.digits), [_say(REST)], []
    if found.reading is Reading.NUMBER and found.mobile:
        pairs = in_pairs(found.digits)
        return (replace(state, step=Step.CONFIRM, number=found.digits, said="", tries=0),
                [_say(READ_BACK.format(pairs=pairs))], [])
    reprompt = NOT_MOBILE if found.reading is Reading.NUMBER else NOT_UNDERSTOOD
    return _misunderstood(replace(state, step=Step.ASK, said=""), reprompt)


def _on_confirm(state: NumberState, text: str) -> Decision:
    found = read_number(text)
    if found.reading is Reading.NUMBER and found.digits != state.number:  # "non, le 07…"
        return _heard(replace(state, step=Step.ASK), text)
    answer = parse_yes_no(text)
    if answer is True:
        send = replace(state.send, to=international(state.number))  # type: ignore[type-var]
        return replace(state, step=Step.DONE), [_say(state.sending)], [send]
    if answer is False:
        return replace(state, step=Step.ASK, number="", said=""), [_say(WRONG)], []
    again = READ_BACK_AGAIN.format(pairs=in_pairs(state.number))
    return _misunderstood(state, again)


def _misunderstood(state: NumberState, reprompt: str) -> Decision:
    if state.tries + 1 >= MAX_TRIES:
        return replace(state, step=Step.DONE), [_say(TOO_HARD)], []
    return replace(state, tries=state.tries + 1), [_say(reprompt, TurnAction.CLARIFY)], []


def _say(text: str, action: TurnAction = TurnAction.ANSWER) -> Say:
    return Say(text, action)
