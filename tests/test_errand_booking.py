"""The booking dialogue, turn by turn: each row is an event, what the bot then says, and what
it asks the runner to do."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import pytest

from callbot.brain import Brain
from callbot.conversation.model import TurnAction
from callbot.errands import booking as b
from callbot.errands.bench import (
    SCRIPTS,
    bench_booking_calls,
    cmd_bench_booking,
    dialogue_turns,
    register,
)
from callbot.errands.booking import (
    Book,
    Booked,
    BookingFailed,
    BookingsFound,
    CallerText,
    CancelBooking,
    Cancelled,
    ConnectorFailed,
    Decision,
    Event,
    FindBookings,
    FindSlots,
    Handover,
    HandoverReason,
    SendSms,
    SlotsFound,
    Step,
    start,
    start_cancel,
    start_move,
    step,
)
from callbot.errands.ports import Booking, ConnectorError, Slot, SlotTaken
from callbot.errands.slot_speech import parse_name
from callbot.errands.when import When
from callbot.kb.model import Appointments, Service, TimeRange

_DAY = (TimeRange(time(8, 30), time(12)), TimeRange(time(13, 30), time(17)))
SERVICE = Service("etat_civil", "le service état civil", "1 place de la République", "02 40 12 34 10",
                  hours=(_DAY,) * 5 + ((TimeRange(time(9), time(12)),), ()),
                  appointments=Appointments("etat-civil", 20))
CAL = "etat-civil"
NOW = datetime(2026, 12, 2, 9, 0)  # a Wednesday
ANY = When.asap(NOW.date())


def slot(day: int, hour: int, minute: int = 0) -> Slot:
    start_at = datetime(2026, 12, day, hour, minute)
    return Slot(CAL, start_at, start_at + timedelta(minutes=20))


def dec(day: int) -> date:
    return date(2026, 12, day)


A, B, C, D = slot(3, 10, 30), slot(4, 14), slot(7, 9), slot(8, 10)
OLD = Booking(A, "uid-a", "Dupont")
SMS = ("Rendez-vous au service état civil le mardi 8 décembre à 10h, au nom de Martin. "
       "1 place de la République. Pour annuler ou déplacer : 02 40 12 34 10.")


def find(when: When, *exclude: Slot) -> FindSlots:
    return FindSlots(CAL, when, SERVICE, 20, exclude)


def offer(*slots: str) -> str:
    question = "Lequel vous convient ?" if len(slots) > 1 else "Cela vous convient ?"
    return f"Je peux vous proposer {', ou '.join(slots)}. {question}"


def recap(when: str, name: str = "Dupont") -> str:
    return f"Je récapitule : rendez-vous au service état civil {when}, au nom de {name}. Je confirme ?"


Row = tuple[Event | str | tuple[str, float] | None, str, list[b.Effect]]

CHOOSE_A = [  # from the offer of A and B to the recap of A
    ("le premier", b.ASK_NAME, []),
    ("Dupont", recap("demain à 10 h 30"), []),
    ("oui", "", [Book(A, "Dupont")]),
]
DIALOGUES: dict[str, tuple[Callable[[], Decision], Step, list[Row]]] = {
    "happy path": (lambda: start(SERVICE, NOW, "je voudrais un rendez-vous jeudi ou vendredi"), Step.DONE, [
        (None, "", [find(When(dec(3), dec(4)))]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        *CHOOSE_A,
        (Booked(Booking(A, "uid", "Dupont")),
         f"C'est noté : rendez-vous demain à 10 h 30, au service état civil. {b.OFFER_SMS}", []),
        ("oui merci", b.SMS_SENT, [SendSms(
            "Rendez-vous au service état civil le jeudi 3 décembre à 10h30, au nom de Dupont. "
            "1 place de la République. Pour annuler ou déplacer : 02 40 12 34 10.")]),
    ]),
    "another day asked": (lambda: start(SERVICE, NOW, sms=False), Step.DONE, [
        (None, b.ASK_WHEN, []),
        ("n'importe quand", "", [find(ANY)]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        ("plutôt la semaine prochaine le matin", "", [find(When(dec(7), dec(12), "morning"))]),
        (SlotsFound((C, D)), offer("lundi 7 décembre à 9 h", "mardi 8 décembre à 10 h"), []),
        ("celui de mardi", b.ASK_NAME, []),
        ("je m'appelle Martin", recap("mardi 8 décembre à 10 h", "Martin"), []),
        ("c'est ça", "", [Book(D, "Martin")]),
        (Booked(Booking(D, "uid", "Martin")),
         "C'est noté : rendez-vous mardi 8 décembre à 10 h, au service état civil.", []),
    ]),
    "both slots refused, then none left": (
        lambda: start(SERVICE, NOW, "le plus tôt possible"), Step.HANDED_OVER, [
        (None, "", [find(ANY)]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        ("non aucun des deux", b.ASK_WHEN_AGAIN, []),
        ("vendredi après 16 heures", "", [find(When(dec(4), dec(4), not_before=time(16)), A, B)]),
        (SlotsFound(()), b.NOTHING_THEN, [find(ANY, A, B)]),
        (SlotsFound((C,)), offer("lundi 7 décembre à 9 h"), []),
        ("vous n'avez pas d'autres créneaux ?", "", [find(ANY, A, B, C)]),
        (SlotsFound(()), b.NO_SLOTS, [Handover(HandoverReason.NO_SLOTS)]),
    ]),
    "slot taken between the offer and the yes": (lambda: start(SERVICE, NOW, "demain"), Step.BOOKING, [
        (None, "", [find(When(dec(3), dec(3)))]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        *CHOOSE_A,
        (BookingFailed("taken"), b.TAKEN, [find(When(dec(3), dec(3)), A)]),
        (SlotsFound((B, C)), offer("vendredi 4 décembre à 14 h", "lundi 7 décembre à 9 h"), []),
        ("le premier", recap("vendredi 4 décembre à 14 h"), []),  # the name is kept
        ("oui", "", [Book(B, "Dupont")]),
    ]),
    "calendar error on booking": (lambda: start(SERVICE, NOW, "demain"), Step.HANDED_OVER, [
        (None, "", [find(When(dec(3), dec(3)))]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        *CHOOSE_A,
        (BookingFailed("error"), b.BOOK_FAILED, [Handover(HandoverReason.CALENDAR_ERROR)]),
        ("allô ?", "", []),  # handed over: nothing more
    ]),
    "calendar down on booking": (lambda: start(SERVICE, NOW, "demain"), Step.HANDED_OVER, [
        (None, "", [find(When(dec(3), dec(3)))]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        *CHOOSE_A,
        (ConnectorFailed("calendar.example: 503"), b.BOOK_FAILED, [Handover(HandoverReason.CALENDAR_ERROR)]),
    ]),
    "calendar down on search": (lambda: start(SERVICE, NOW, "demain"), Step.HANDED_OVER, [
        (None, "", [find(When(dec(3), dec(3)))]),
        (ConnectorFailed("calendar.example: timed out"), b.CALENDAR_FAILED,
         [Handover(HandoverReason.CALENDAR_ERROR)]),
    ]),
    "shaky name spelled": (lambda: start(SERVICE, NOW, "demain"), Step.CONFIRM, [
        (None, "", [find(When(dec(3), dec(3)))]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        ("10 h 30", b.ASK_NAME, []),
        (("c'est Dupond", 0.42), b.ASK_SPELLING, []),
        ("euh attendez", b.SPELLING_EXAMPLE, []),
        ("dé u pé o enne té", recap("demain à 10 h 30", "Dupont, D, U, P, O, N, T"), []),
        ("non, au nom de Durand", recap("demain à 10 h 30", "Durand"), []),
        ("non", f"D'accord. {offer('demain à 10 h 30', 'vendredi 4 décembre à 14 h')}", []),
        ("le deuxième", recap("vendredi 4 décembre à 14 h", "Durand"), []),
    ]),
    "name spelled at once": (lambda: start(SERVICE, NOW, "demain"), Step.BOOKING, [
        (None, "", [find(When(dec(3), dec(3)))]),
        (SlotsFound((A,)), offer("demain à 10 h 30"), []),
        ("oui", b.ASK_NAME, []),
        ("L E espace G O F F", recap("demain à 10 h 30", "Le Goff, L, E, espace, G, O, F, F"), []),
        ("oui", "", [Book(A, "Le Goff")]),
    ]),
    "cancel": (lambda: start_cancel(SERVICE), Step.DONE, [
        (None, "", [FindBookings(CAL)]),
        (BookingsFound((Booking(slot(1, 9), "past", "Dupont"), OLD,
                        Booking(Slot("cimetiere", A.start, A.end), "x", "Dupont"))),
         "Vous avez rendez-vous demain à 10 h 30. Je l'annule ?", []),
        ("oui", "", [CancelBooking(OLD)]),
        (Cancelled(), b.CANCELLED, []),
    ]),
    "cancel one of two, then keep it": (lambda: start_cancel(SERVICE), Step.DONE, [
        (None, "", [FindBookings(CAL)]),
        (BookingsFound((Booking(C, "uid-c", "Dupont"), OLD)),
         "Vous avez 2 rendez-vous : demain à 10 h 30, ou lundi 7 décembre à 9 h. Lequel ?", []),
        ("celui de lundi", "Vous avez rendez-vous lundi 7 décembre à 9 h. Je l'annule ?", []),
        ("non", b.KEPT, []),
    ]),
    "nothing to cancel": (lambda: start_cancel(SERVICE), Step.HANDED_OVER, [
        (None, "", [FindBookings(CAL)]),
        (BookingsFound(()), b.NO_BOOKING, [Handover(HandoverReason.NO_BOOKING)]),
    ]),
    "move: book the new one, then cancel the old one": (lambda: start_move(SERVICE), Step.DONE, [
        (None, "", [FindBookings(CAL)]),
        (BookingsFound((OLD,)), f"Vous avez rendez-vous demain à 10 h 30. {b.ASK_WHEN}", []),
        ("lundi", "", [find(When(dec(7), dec(7)))]),
        (SlotsFound((C, slot(7, 14))), offer("lundi 7 décembre à 9 h", "à 14 h"), []),
        ("le premier", "Je récapitule : votre rendez-vous de demain à 10 h 30 passe à "
                       "lundi 7 décembre à 9 h. Je confirme ?", []),
        ("oui", "", [Book(C, "Dupont")]),  # never cancel first
        (Booked(Booking(C, "uid-c", "Dupont")), "", [CancelBooking(OLD)]),
        (Cancelled(), f"C'est fait : votre rendez-vous est maintenant lundi 7 décembre à 9 h. "
                      f"{b.OFFER_SMS}", []),
        ("non merci", b.FINE, []),
    ]),
    "move: the old one cannot be cancelled": (lambda: start_move(SERVICE), Step.HANDED_OVER, [
        (None, "", [FindBookings(CAL)]),
        (BookingsFound((OLD,)), f"Vous avez rendez-vous demain à 10 h 30. {b.ASK_WHEN}", []),
        ("lundi à 9 h", "", [find(When(dec(7), dec(7), at=time(9)))]),
        (SlotsFound((C,)), offer("lundi 7 décembre à 9 h"), []),
        ("d'accord", "Je récapitule : votre rendez-vous de demain à 10 h 30 passe à "
                     "lundi 7 décembre à 9 h. Je confirme ?", []),
        ("oui", "", [Book(C, "Dupont")]),
        (Booked(Booking(C, "uid-c", "Dupont")), "", [CancelBooking(OLD)]),
        (ConnectorFailed("refused"), b.OLD_NOT_CANCELLED, [Handover(HandoverReason.CALENDAR_ERROR)]),
    ]),
    "three misunderstandings": (lambda: start(SERVICE, NOW), Step.HANDED_OVER, [
        (None, b.ASK_WHEN, []),
        ("bof", b.WHEN_EXAMPLE, []),
        ("gnagna", b.WHEN_EXAMPLE, []),
        ("hmm", b.TO_A_PERSON, [Handover(HandoverReason.NOT_UNDERSTOOD)]),
    ]),
    "understood in between: the count starts again": (lambda: start(SERVICE, NOW, "demain"), Step.CONFIRM, [
        (None, "", [find(When(dec(3), dec(3)))]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        ("euh", f"{b.NOT_UNDERSTOOD} {offer('demain à 10 h 30', 'vendredi 4 décembre à 14 h')}", []),
        ("oui", "Lequel : demain à 10 h 30, ou vendredi 4 décembre à 14 h ?", []),
        ("le second", b.ASK_NAME, []),
        ("euh", b.ASK_NAME_AGAIN, []),
        ("Dupont", recap("vendredi 4 décembre à 14 h"), []),
    ]),
    "a person asked": (lambda: start(SERVICE, NOW), Step.HANDED_OVER, [
        (None, b.ASK_WHEN, []),
        ("je préfère parler à quelqu'un", b.TO_A_PERSON, [Handover(HandoverReason.CALLER_ASKED)]),
    ]),
    "given up": (lambda: start(SERVICE, NOW, "demain"), Step.DONE, [
        (None, "", [find(When(dec(3), dec(3)))]),
        (SlotsFound((A, B)), offer("demain à 10 h 30", "vendredi 4 décembre à 14 h"), []),
        ("laissez tomber je rappellerai", b.GIVE_UP_BOOK, []),
    ]),
}


def _event(row: Event | str | tuple[str, float]) -> Event:
    if isinstance(row, str):
        return CallerText(row)
    if isinstance(row, tuple):
        return CallerText(*row)
    return row


@pytest.mark.parametrize("name", DIALOGUES)
def test_dialogue(name: str) -> None:
    starter, final, rows = DIALOGUES[name]
    state, says, effects = starter()
    for number, (event, said, wanted) in enumerate(rows):
        if event is not None:
            state, says, effects = step(state, _event(event), NOW)
        assert (" ".join(s.text for s in says), effects) == (said, wanted), f"row {number}: {event}"
    assert state.step is final


def test_handover_and_reprompts_say_what_they_are() -> None:
    state, _, _ = start(SERVICE, NOW)
    state, [reprompt], _ = step(state, CallerText("bof"), NOW)
    assert reprompt.action is TurnAction.CLARIFY
    _, [handover], [effect] = step(state, CallerText("un conseiller svp"), NOW)
    assert handover.action is TurnAction.TRANSFER and effect == Handover(HandoverReason.CALLER_ASKED)


def test_text_while_the_calendar_works_waits_and_late_answers_are_ignored() -> None:
    state, _, _ = start(SERVICE, NOW, "demain")
    assert step(state, CallerText("allô ?"), NOW) == (state, [], [])
    assert step(state, Cancelled(), NOW) == (state, [], [])
    assert step(state, Booked(OLD), NOW) == (state, [], [])


def test_the_sms_names_the_day_in_full() -> None:
    state = b.BookingState(b.Step.OFFER_SMS, b.Goal.BOOK, SERVICE, CAL, 20,
                           booking=Booking(D, "uid", "Martin"))
    assert b.sms_text(state) == SMS


@pytest.mark.parametrize(
    ("effect", "error", "event"),
    [(Book(A, "Dupont"), SlotTaken("412"), BookingFailed("taken")),
     (Book(A, "Dupont"), ConnectorError("timeout"), BookingFailed("error")),
     (CancelBooking(OLD), ConnectorError("refused"), ConnectorFailed("refused")),
     (find(ANY), ConnectorError("down"), ConnectorFailed("down"))],
)
def test_event_for_error(effect: b.Effect, error: ConnectorError, event: Event) -> None:
    assert b.event_for_error(effect, error) == event


@pytest.mark.parametrize(
    ("said", "name"),
    [("Dupont", "Dupont"), ("c'est madame dupont", "Dupont"), ("je m'appelle Jean Le Goff", "Jean Le Goff"),
     ("au nom de Martin-Dubois merci", "Martin-Dubois"), ("Hervé Lefèvre", "Hervé Lefèvre"),
     ("oui", None), ("euh", None), ("c'est le 06 12 34 56 78", None),
     ("je ne sais pas trop quoi vous dire", None)],
)
def test_parse_name(said: str, name: str | None) -> None:
    assert parse_name(said) == name


def test_a_service_without_appointments_cannot_be_booked() -> None:
    closed = Service("accueil", "l'accueil", "", "", hours=((),) * 7)
    with pytest.raises(ValueError, match="service 'accueil' takes no appointments"):
        start(closed, NOW)


def test_the_bench_dialogues_run_to_their_end() -> None:
    assert [dialogue_turns(*script) for script in SCRIPTS] == [5, 7, 8, 2, 5]


def test_bench_booking_registers_under_bench() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    register(commands, commands.add_parser("bench").add_subparsers())
    args = parser.parse_args(["bench", "booking", "--repeat", "3"])
    assert args.func is cmd_bench_booking and (args.repeat, args.calls) == (3, 9)


def test_the_bench_times_whole_booking_calls_against_radicale(brain: Brain) -> None:
    figures = bench_booking_calls(brain, dialogues=3)  # each call raises if it did not book
    assert figures["booking_calendar"] == "radicale" and figures["booking_calls"] == 3
    assert 0 < float(figures["booking_call_ms_median"]) <= float(figures["booking_call_ms_max"])
