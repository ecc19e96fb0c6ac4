"""The appointment dialogue as a clock-free state machine: book, cancel, move.

``step(state, event, now) → (state, sayings, effects)`` on frozen values, like the main
policy's ``decide``: the runner carries the effects out (``FindSlots`` → ``free_slots`` on the
calendar's busy intervals, ``Book`` → ``Calendar.book``…) and feeds their outcome back as an
event (``SlotsFound``, ``Booked``…; a raised ``ConnectorError`` → ``event_for_error``). Whatever
acts on the calendar is read back and confirmed first, and a move books the new slot before it
cancels the old one: the caller never ends up with no appointment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from callbot.conversation.model import Say, TurnAction
from callbot.errands.ports import Booking, ConnectorError, Slot, SlotTaken
from callbot.errands.slot_speech import (
    name_from_spelling,
    parse_name,
    read_spelling,
    say_slot,
    say_slots,
    spell_out,
    write_slot,
)
from callbot.errands.when import When, normalise, parse_choice, parse_when, parse_yes_no, refine_when
from callbot.kb.french import with_preposition
from callbot.kb.model import Service
from callbot.nlu.text import fold
from callbot.spoken_phone import other_number_asked

#: Misunderstandings in a row before a person takes over.
MAX_MISUNDERSTANDINGS = 3
#: Below this speech-recognition confidence, a name is spelled before it is booked.
NAME_MIN_ASR_CONFIDENCE = 0.85

ASK_WHEN = "Quel jour vous arrangerait ?"
ASK_WHEN_AGAIN = "D'accord. Quel autre jour vous arrangerait ?"
WHEN_EXAMPLE = "Quel jour vous arrangerait ? Par exemple demain matin, ou jeudi après-midi."
NOT_UNDERSTOOD = "Pardon, je n'ai pas compris."
ASK_NAME = "Très bien. À quel nom ?"
ASK_NAME_AGAIN = "À quel nom dois-je noter le rendez-vous ?"
ASK_SPELLING = "Pouvez-vous m'épeler votre nom, lettre par lettre ?"
SPELLING_EXAMPLE = "Lettre par lettre, s'il vous plaît : par exemple D, U, P, O, N, T."
TAKEN = "Ce créneau vient d'être pris."
NOTHING_THEN = "Je n'ai rien de libre à ce moment-là."
NO_SLOTS = "Je n'ai aucun créneau libre dans les deux prochains mois ; je vous passe un agent."
BOOK_FAILED = "Je n'ai pas pu enregistrer le rendez-vous ; je vous passe un agent."
CALENDAR_FAILED = "Je n'arrive pas à consulter l'agenda ; je vous passe un agent."
CANCEL_FAILED = "Je n'ai pas pu annuler le rendez-vous ; je vous passe un agent."
OLD_NOT_CANCELLED = ("Votre nouveau rendez-vous est bien enregistré, mais je n'ai pas pu annuler "
                     "l'ancien ; je vous passe un agent.")
NO_BOOKING = "Je ne trouve aucun rendez-vous à votre numéro ; je vous passe un agent."
TO_A_PERSON = "Je vous passe un agent."
GIVE_UP_BOOK = "D'accord, je n'ai rien réservé."
GIVE_UP_CANCEL = "D'accord, je n'ai rien changé."
OFFER_SMS = "Voulez-vous la confirmation par SMS ?"
SMS_SENT = "Je vous l'envoie."
FINE = "Très bien."
CANCELLED = "C'est annulé."
KEPT = "D'accord, je le garde."
YES_OR_NO = "Oui ou non ?"

_ASKS_PERSON = re.compile(r"\b(?:un agent|une personne|quelqu'un|un conseiller|une conseillere"
                          r"|un humain|une vraie personne|standard)\b")
_GIVES_UP = re.compile(r"\b(?:laissez tomber|laisse tomber|tant pis|je rappellerai|plus besoin"
                       r"|oubliez|j'abandonne|au revoir)\b")
_OTHERS = re.compile(r"\b(?:autres?|suivants?|plus tard)\b")
_NEITHER = re.compile(r"\b(?:aucun|aucune|ni l'un ni l'autre|ca ne me va pas)\b")
_NO_IDEA = re.compile(r"\bje (?:ne )?sais pas\b")
_NAME_FIX = re.compile(r"\b(?:au nom de|je m'appelle|mon nom est|le nom c'est|le nom est)\s+")


class Step(StrEnum):
    ASK_WHEN = "ask_when"
    SEARCHING = "searching"
    OFFERING = "offering"
    ASK_NAME = "ask_name"
    SPELL_NAME = "spell_name"
    CONFIRM = "confirm"
    BOOKING = "booking"
    OFFER_SMS = "offer_sms"
    FINDING = "finding"
    PICK_BOOKING = "pick_booking"
    CONFIRM_CANCEL = "confirm_cancel"
    CANCELLING = "cancelling"
    DONE = "done"
    HANDED_OVER = "handed_over"


class Goal(StrEnum):
    BOOK = "book"
    CANCEL = "cancel"
    MOVE = "move"


class HandoverReason(StrEnum):
    CALLER_ASKED = "caller_asked"
    NOT_UNDERSTOOD = "not_understood"
    NO_SLOTS = "no_slots"
    NO_BOOKING = "no_booking"
    CALENDAR_ERROR = "calendar_error"


# --- events: what the caller said, what the calendar answered ----------------------------
@dataclass(frozen=True)
class CallerText:
    text: str
    asr_confidence: float | None = None  # mean word confidence, when speech recognition gives it


@dataclass(frozen=True)
class SlotsFound:
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Booked:
    booking: Booking


@dataclass(frozen=True)
class BookingFailed:
    reason: Literal["taken", "error"]


@dataclass(frozen=True)
class BookingsFound:
    bookings: tuple[Booking, ...]


@dataclass(frozen=True)
class Cancelled:
    pass


@dataclass(frozen=True)
class ConnectorFailed:
    """A search or a cancellation failed (the calendar is down, timed out, refused)."""

    detail: str


Event = CallerText | SlotsFound | Booked | BookingFailed | BookingsFound | Cancelled | ConnectorFailed


# --- effects: what the runner does for the dialogue ---------------------------------------
@dataclass(frozen=True)
class FindSlots:
    calendar: str
    when: When
    service: Service  # its opening hours bound the slots
    slot_minutes: int
    exclude: tuple[Slot, ...] = ()  # offered and refused, or just taken


@dataclass(frozen=True)
class Book:
    slot: Slot
    name: str


@dataclass(frozen=True)
class CancelBooking:
    booking: Booking


@dataclass(frozen=True)
class FindBookings:
    calendar: str  # the runner adds the caller's number


@dataclass(frozen=True)
class Handover:
    reason: HandoverReason


@dataclass(frozen=True)
class SendSms:
    """The caller said yes to the confirmation: send this text to ``to`` ("": the calling
    number). ``ask_number``: ask which number first (``callbot.errands.sms_number``): the
    calling one is hidden or no mobile, or the caller wants it elsewhere."""

    text: str
    to: str = ""
    ask_number: bool = False


Effect = FindSlots | Book | CancelBooking | FindBookings | Handover | SendSms


@dataclass(frozen=True)
class BookingState:
    step: Step
    goal: Goal
    service: Service
    calendar: str
    slot_minutes: int
    wish: When | None = None
    offered: tuple[Slot, ...] = ()
    refused: tuple[Slot, ...] = ()
    chosen: Slot | None = None
    name: str | None = None
    spelled: bool = False
    booking: Booking | None = None  # the one just booked
    existing: Booking | None = None  # the one to cancel or move
    found: tuple[Booking, ...] = ()  # the caller's bookings, when they have several
    tries: int = 0  # misunderstandings in a row
    widened: bool = False  # the wish gave nothing: the search now takes any day
    sms: bool = True  # whether an SMS confirmation can be offered
    sms_to_caller: bool = True  # the calling number takes SMS (else the number is asked)

    @property
    def finished(self) -> bool:
        """The errand is over: the main policy takes the call back."""
        return self.step in (Step.DONE, Step.HANDED_OVER)


Decision = tuple[BookingState, list[Say], list[Effect]]


def _new(service: Service, goal: Goal, step: Step, sms: bool,
         sms_to_caller: bool) -> BookingState:
    if service.appointments is None:
        raise ValueError(f"service '{service.id}' takes no appointments (no 'appointments' block)")
    return BookingState(step, goal, service, service.appointments.calendar,
                        service.appointments.slot_minutes, sms=sms, sms_to_caller=sms_to_caller)


def start(service: Service, now: datetime, text: str = "", sms: bool = True,
          sms_to_caller: bool = True) -> Decision:
    """Book: search at once when the first sentence said when ("mardi matin"), else ask."""
    state = _new(service, Goal.BOOK, Step.ASK_WHEN, sms, sms_to_caller)
    wish = parse_when(text, now.date()) if text else None
    return _search(state, wish) if wish else _say(state, ASK_WHEN)


def start_cancel(service: Service, sms: bool = True, sms_to_caller: bool = True) -> Decision:
    """Cancel one of the caller's bookings: find them first."""
    state = _new(service, Goal.CANCEL, Step.FINDING, sms, sms_to_caller)
    return state, [], [FindBookings(state.calendar)]


def start_move(service: Service, sms: bool = True, sms_to_caller: bool = True) -> Decision:
    """Move a booking: find it, book the new slot, then cancel the old one."""
    state = _new(service, Goal.MOVE, Step.FINDING, sms, sms_to_caller)
    return state, [], [FindBookings(state.calendar)]


def asks_person(text: str) -> bool:
    """"Un agent", "quelqu'un", "le standard": a person, whatever step the errand is at."""
    return bool(_ASKS_PERSON.search(normalise(text)))


def gives_up(text: str) -> bool:
    """"Laissez tomber", "tant pis", "au revoir": the errand stops, nothing done."""
    return bool(_GIVES_UP.search(normalise(text)))


def event_for_error(effect: Effect, error: ConnectorError) -> Event:
    """The event a runner feeds back when carrying ``effect`` out raised ``error``."""
    if isinstance(effect, Book):
        return BookingFailed("taken" if isinstance(error, SlotTaken) else "error")
    return ConnectorFailed(str(error))


def step(state: BookingState, event: Event, now: datetime) -> Decision:
    """Everything the dialogue does in answer to one event."""
    if state.finished:
        return state, [], []
    today = now.date()
    match event:
        case CallerText():
            return _on_text(state, event, today)
        case SlotsFound(slots=slots) if state.step is Step.SEARCHING:
            return _on_slots(state, slots, today)
        case Booked() | BookingFailed() if state.step is not Step.BOOKING:
            return state, [], []
        case Booked(booking=booking) if state.goal is Goal.MOVE and state.existing:
            return replace(state, booking=booking, step=Step.CANCELLING), [], [
                CancelBooking(state.existing)]
        case Booked(booking=booking):
            return _done(replace(state, booking=booking), _booked_text(state, today))
        case BookingFailed(reason="taken"):
            taken = (*state.refused, *(s for s in (state.chosen,) if s))
            return _search(replace(state, refused=taken, chosen=None),
                           state.wish or When.asap(today), (TAKEN,))
        case BookingFailed() | ConnectorFailed() if state.step is Step.BOOKING:
            return _handover(state, BOOK_FAILED, HandoverReason.CALENDAR_ERROR)
        case BookingsFound(bookings=bookings) if state.step is Step.FINDING:
            return _on_bookings(state, bookings, now)
        case Cancelled() if state.step is not Step.CANCELLING:
            return state, [], []
        case Cancelled() if state.goal is Goal.MOVE:
            return _done(state, _booked_text(state, today, moved=True))
        case Cancelled():
            return _say(state, CANCELLED, step=Step.DONE)
        case ConnectorFailed() if state.step is Step.CANCELLING:
            moved = state.goal is Goal.MOVE
            return _handover(state, OLD_NOT_CANCELLED if moved else CANCEL_FAILED,
                             HandoverReason.CALENDAR_ERROR)
        case ConnectorFailed():
            return _handover(state, CALENDAR_FAILED, HandoverReason.CALENDAR_ERROR)
    return state, [], []


# --- sayings -----------------------------------------------------------------------------
def _say(state: BookingState, text: str, *effects: Effect, action: TurnAction = TurnAction.ANSWER,
         **changes: object) -> Decision:
    """Say ``text``: the caller was understood, so the misunderstandings start again."""
    return replace(state, tries=0, **changes), [Say(text, action)], list(effects)


def _handover(state: BookingState, text: str, reason: HandoverReason) -> Decision:
    return replace(state, step=Step.HANDED_OVER), [Say(text, TurnAction.TRANSFER)], [Handover(reason)]


def _misunderstood(state: BookingState, reprompt: str) -> Decision:
    if state.tries + 1 >= MAX_MISUNDERSTANDINGS:
        return _handover(state, TO_A_PERSON, HandoverReason.NOT_UNDERSTOOD)
    return replace(state, tries=state.tries + 1), [Say(reprompt, TurnAction.CLARIFY)], []


def _offer(slots: tuple[Slot, ...], today: date) -> str:
    question = "Lequel vous convient ?" if len(slots) > 1 else "Cela vous convient ?"
    return f"Je peux vous proposer {say_slots(slots, today)}. {question}"


def _place(state: BookingState) -> str:
    return with_preposition("à", state.service.name)


def _recap(state: BookingState, today: date) -> Decision:
    assert state.chosen is not None
    new = say_slot(state.chosen, today)
    if state.goal is Goal.MOVE and state.existing:
        old = say_slot(state.existing.slot, today)
        text = f"Je récapitule : votre rendez-vous de {old} passe à {new}. Je confirme ?"
    else:
        spelled = f", {spell_out(state.name or '')}" if state.spelled else ""
        text = (f"Je récapitule : rendez-vous {_place(state)} {new}, au nom de {state.name}"
                f"{spelled}. Je confirme ?")
    return _say(state, text, step=Step.CONFIRM)


def _booked_text(state: BookingState, today: date, moved: bool = False) -> str:
    slot = say_slot(state.chosen, today) if state.chosen else ""
    if moved:
        return f"C'est fait : votre rendez-vous est maintenant {slot}."
    return f"C'est noté : rendez-vous {slot}, {_place(state)}."


def _done(state: BookingState, text: str) -> Decision:
    if state.sms:
        return _say(state, f"{text} {OFFER_SMS}", step=Step.OFFER_SMS)
    return _say(state, text, step=Step.DONE)


def sms_text(state: BookingState) -> str:
    """The confirmation as written for an SMS: the full day, the address, how to change it."""
    booking, service = state.booking, state.service
    slot = write_slot(booking.slot) if booking else ""
    name = booking.name if booking else state.name
    return (f"Rendez-vous {_place(state)} le {slot}, au nom de {name}. {service.address}. "
            f"Pour annuler ou déplacer : {service.phone}.")


# --- searching and offering --------------------------------------------------------------
def _search(state: BookingState, wish: When, said: tuple[str, ...] = ()) -> Decision:
    effect = FindSlots(state.calendar, wish, state.service, state.slot_minutes, state.refused)
    new_state = replace(state, step=Step.SEARCHING, wish=wish, offered=(), tries=0)
    return new_state, [Say(text, TurnAction.ANSWER) for text in said], [effect]


def _on_slots(state: BookingState, slots: tuple[Slot, ...], today: date) -> Decision:
    if slots:
        return _say(state, _offer(slots, today), step=Step.OFFERING, offered=tuple(slots))
    wish = state.wish or When.asap(today)
    if state.widened or wish == When.asap(today):
        return _handover(state, NO_SLOTS, HandoverReason.NO_SLOTS)
    return _search(replace(state, widened=True), When.asap(today), (NOTHING_THEN,))


def _on_text(state: BookingState, event: CallerText, today: date) -> Decision:
    words = normalise(event.text)
    if _ASKS_PERSON.search(words):
        return _handover(state, TO_A_PERSON, HandoverReason.CALLER_ASKED)
    handler = _TEXT_HANDLERS.get(state.step)
    if handler is None:  # busy with the calendar: its answer comes first
        return state, [], []
    if _GIVES_UP.search(words) and state.step is not Step.OFFER_SMS:
        return _say(state, GIVE_UP_BOOK if state.goal is Goal.BOOK else GIVE_UP_CANCEL, step=Step.DONE)
    return handler(state, event, today)


def _on_when(state: BookingState, event: CallerText, today: date) -> Decision:
    wish = (refine_when(state.wish, event.text, today) if state.wish
            else parse_when(event.text, today))
    if wish is None and _NO_IDEA.search(normalise(event.text)):
        wish = When.asap(today)
    if wish is None:
        return _misunderstood(state, WHEN_EXAMPLE)
    return _search(replace(state, widened=False), wish)


def _on_offer_reply(state: BookingState, event: CallerText, today: date) -> Decision:
    text, offered = event.text, state.offered
    choice = parse_choice(text, list(offered), today)
    answer = parse_yes_no(text)
    if choice is None and answer is True and len(offered) == 1:
        choice = 0
    if choice is not None:
        return _chose(replace(state, chosen=offered[choice]), today)
    words = normalise(text)
    wish_or_any = state.wish or When.asap(today)
    wish = refine_when(wish_or_any, text, today)
    if wish is not None:
        return _search(replace(state, widened=False), wish)
    if _OTHERS.search(words):
        return _search(replace(state, refused=(*state.refused, *offered)), wish_or_any)
    if answer is False or _NEITHER.search(words):
        return _say(state, ASK_WHEN_AGAIN, step=Step.ASK_WHEN, refused=(*state.refused, *offered))
    if answer is True:
        return _misunderstood(state, f"Lequel : {say_slots(offered, today)} ?")
    return _misunderstood(state, f"{NOT_UNDERSTOOD} {_offer(offered, today)}")


def _chose(state: BookingState, today: date) -> Decision:
    if state.name:  # a move keeps the name; a "no" to the recap kept it too
        return _recap(state, today)
    return _say(state, ASK_NAME, step=Step.ASK_NAME)


# --- the name ----------------------------------------------------------------------------
def _on_name(state: BookingState, event: CallerText, today: date) -> Decision:
    letters = read_spelling(event.text)
    if letters:
        return _recap(replace(state, name=name_from_spelling(letters), spelled=True), today)
    name = parse_name(event.text)
    if name is None:
        return _misunderstood(state, ASK_NAME_AGAIN)
    shaky = event.asr_confidence is not None and event.asr_confidence < NAME_MIN_ASR_CONFIDENCE
    if shaky:
        return _say(state, ASK_SPELLING, step=Step.SPELL_NAME, name=name)
    return _recap(replace(state, name=name, spelled=False), today)


def _on_spelling(state: BookingState, event: CallerText, today: date) -> Decision:
    letters = read_spelling(event.text)
    if letters is None:
        return _misunderstood(state, SPELLING_EXAMPLE)
    return _recap(replace(state, name=name_from_spelling(letters), spelled=True), today)


# --- confirming --------------------------------------------------------------------------
def _on_confirm(state: BookingState, event: CallerText, today: date) -> Decision:
    answer = parse_yes_no(event.text)
    if answer is True and state.chosen and state.name:
        return replace(state, step=Step.BOOKING, tries=0), [], [Book(state.chosen, state.name)]
    if answer is None:
        slot = say_slot(state.chosen, today) if state.chosen else ""
        return _misunderstood(state, f"Je confirme le rendez-vous {slot} ? {YES_OR_NO}")
    letters = read_spelling(event.text)  # "non, D U R A N D"
    if letters:
        return _recap(replace(state, name=name_from_spelling(letters), spelled=True), today)
    fixed = _NAME_FIX.search(fold(event.text))  # "non, au nom de Durand"
    name = parse_name(event.text[fixed.end():]) if fixed else None
    if name:
        return _recap(replace(state, name=name, spelled=False), today)
    wish = refine_when(state.wish or When.asap(today), event.text, today)
    if wish is not None:
        return _search(replace(state, chosen=None, widened=False), wish)
    return _say(state, f"D'accord. {_offer(state.offered, today)}", step=Step.OFFERING, chosen=None)


def _on_sms(state: BookingState, event: CallerText, today: date) -> Decision:
    answer = parse_yes_no(event.text)
    elsewhere = other_number_asked(event.text)  # "oui, sur un autre numéro", "au 07 …"
    if answer is None and not elsewhere:
        return _misunderstood(state, f"{OFFER_SMS} {YES_OR_NO}")
    if answer is False and not elsewhere:
        return _say(state, FINE, step=Step.DONE)
    if elsewhere or not state.sms_to_caller:  # the number is asked, then read back
        return replace(state, step=Step.DONE, tries=0), [], [
            SendSms(sms_text(state), ask_number=True)]
    return _say(state, SMS_SENT, SendSms(sms_text(state)), step=Step.DONE)


# --- cancelling and moving ---------------------------------------------------------------
def _on_bookings(state: BookingState, bookings: tuple[Booking, ...], now: datetime) -> Decision:
    upcoming = tuple(sorted((b for b in bookings
                             if b.slot.calendar == state.calendar and b.slot.start > now),
                            key=lambda b: b.slot.start))
    if not upcoming:
        return _handover(state, NO_BOOKING, HandoverReason.NO_BOOKING)
    if len(upcoming) == 1:
        return _picked(state, upcoming[0], now.date())
    slots = say_slots([b.slot for b in upcoming], now.date())
    return _say(state, f"Vous avez {len(upcoming)} rendez-vous : {slots}. Lequel ?",
                step=Step.PICK_BOOKING, found=upcoming)


def _picked(state: BookingState, booking: Booking, today: date) -> Decision:
    had = f"Vous avez rendez-vous {say_slot(booking.slot, today)}."
    if state.goal is Goal.MOVE:
        return _say(state, f"{had} {ASK_WHEN}", step=Step.ASK_WHEN, existing=booking,
                    name=booking.name)
    return _say(state, f"{had} Je l'annule ?", step=Step.CONFIRM_CANCEL, existing=booking)


def _on_pick(state: BookingState, event: CallerText, today: date) -> Decision:
    choice = parse_choice(event.text, [b.slot for b in state.found], today)
    if choice is None:
        return _misunderstood(state, f"Lequel : {say_slots([b.slot for b in state.found], today)} ?")
    return _picked(state, state.found[choice], today)


def _on_confirm_cancel(state: BookingState, event: CallerText, today: date) -> Decision:
    answer = parse_yes_no(event.text)
    if answer is None or state.existing is None:
        return _misunderstood(state, f"Je l'annule ? {YES_OR_NO}")
    if answer:
        return replace(state, step=Step.CANCELLING, tries=0), [], [CancelBooking(state.existing)]
    return _say(state, KEPT, step=Step.DONE)


_TEXT_HANDLERS = {
    Step.ASK_WHEN: _on_when,
    Step.OFFERING: _on_offer_reply,
    Step.ASK_NAME: _on_name,
    Step.SPELL_NAME: _on_spelling,
    Step.CONFIRM: _on_confirm,
    Step.OFFER_SMS: _on_sms,
    Step.PICK_BOOKING: _on_pick,
    Step.CONFIRM_CANCEL: _on_confirm_cancel,
}
