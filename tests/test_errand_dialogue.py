"""Errands by phone, whole: the conversation (real NLU and knowledge base) books, cancels
and confirms by SMS against a real CalDAV server (Radicale) and a real SMPP server (the
node.js SMSC of tests/fixtures/smsc); two callers race for one slot; the calendar server
stops answering mid-call and the caller gets a person, never a half-booked slot; at night a
message is left for the department (aiosmtpd, the agents' list)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from errand_servers import MailServer, Radicale, Smsc

from callbot.brain import Brain
from callbot.config import StoreSettings
from callbot.conversation.session import Conversation
from callbot.errands.connectors.caldav_calendar import CalDavCalendar
from callbot.errands.connectors.factory import Connectors
from callbot.errands.connectors.smpp_sms import SmppSmsSender
from callbot.errands.connectors.smtp_mail import SmtpMailer
from callbot.errands.runner import ErrandRunner
from callbot.store.database import migrate
from callbot.store.messages import blocking, open_messages

NOW = datetime(2026, 12, 8, 10, 0)  # a Tuesday morning, the état civil open
CALLER = "+33612345678"
ASK = "je voudrais prendre rendez-vous pour refaire ma carte d'identité"


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smsc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsc]:
    server = Smsc(tmp_path_factory.mktemp("smsc")).start()
    yield server
    server.stop()


def _calendar(radicale: Radicale, user: str) -> CalDavCalendar:
    return CalDavCalendar(radicale.url, user, "any", 2.0, {"etat-civil": "etat-civil"})


def _call(brain: Brain, calendar: CalDavCalendar, smsc: Smsc | None = None,
          caller: str = CALLER) -> Conversation:
    sms = (SmppSmsSender("127.0.0.1", smsc.port, smsc.system_id, smsc.password, "MAIRIE", 2.0)
           if smsc else None)
    conversation = brain.conversation(lambda: NOW)
    conversation.caller_id = caller
    conversation.errands = ErrandRunner(Connectors(calendar=calendar, sms=sms))
    conversation.start()
    return conversation


def _say(conversation: Conversation, *lines: str) -> list[str]:
    return [conversation.hear(line).text for line in lines]


def test_a_booking_is_in_the_calendar_and_confirmed_by_sms(brain: Brain, radicale: Radicale,
                                                           smsc: Smsc) -> None:
    calendar = _calendar(radicale, "booking")
    call = _call(brain, calendar, smsc)
    when, offer, name, recap, booked, sent = _say(
        call, ASK, "plutôt jeudi matin", "le premier", "Dupont", "oui", "oui")
    assert when == "Quel jour vous arrangerait ?"
    assert offer.startswith("Je peux vous proposer jeudi 10 décembre à 8 h 30")
    assert name == "Très bien. À quel nom ?"
    assert "au nom de Dupont. Je confirme ?" in recap
    assert booked.startswith("C'est noté") and booked.endswith("la confirmation par SMS ?")
    assert sent.startswith("Je vous l'envoie.")
    day = datetime(2026, 12, 10)
    assert calendar.busy("etat-civil", day, day + timedelta(days=1)) == [
        (datetime(2026, 12, 10, 8, 30), datetime(2026, 12, 10, 8, 50))]
    submits = smsc.submits()
    assert submits and submits[-1]["destination_addr"].endswith("612345678")
    [mine] = calendar.find("etat-civil", CALLER, NOW)  # cancel it by phone
    cancel = _call(brain, calendar)
    asked, done = _say(cancel, "je voudrais annuler mon rendez-vous pour la carte d'identité",
                       "oui")
    assert "jeudi 10 décembre à 8 h 30" in asked and asked.endswith("?")
    assert done.startswith("C'est annulé.")
    assert calendar.find("etat-civil", CALLER, NOW) == [] and mine.name == "Dupont"


def test_two_callers_never_get_the_same_slot(brain: Brain, radicale: Radicale) -> None:
    first = _call(brain, _calendar(radicale, "race"), caller="+33611111111")
    second = _call(brain, _calendar(radicale, "race"), caller="+33622222222")
    for call, name in ((first, "Martin"), (second, "Durand")):  # both offered the same slot
        _say(call, ASK, "vendredi après-midi", "le premier", name)
    assert first.hear("oui").text.startswith("C'est noté")
    taken = second.hear("oui").text
    assert taken.startswith("Ce créneau vient d'être pris. Je peux vous proposer"), taken
    day = datetime(2026, 12, 11)
    assert len(_calendar(radicale, "race").busy("etat-civil", day, day + timedelta(1))) == 1


def test_the_calendar_stopping_mid_call_hands_over_with_nothing_booked(
        brain: Brain, radicale: Radicale) -> None:
    calendar = _calendar(radicale, "outage")
    call = _call(brain, calendar)
    _say(call, ASK, "jeudi matin", "le premier", "Dupont")
    radicale.pause()
    try:
        turn = call.hear("oui")
    finally:
        radicale.resume()
    assert turn.action == "transfer" and "je vous passe un agent" in turn.text
    day = datetime(2026, 12, 10)
    assert calendar.busy("etat-civil", day, day + timedelta(days=1)) == []


def test_without_a_calendar_the_topic_is_answered(brain: Brain, tmp_path: Path) -> None:
    call = brain.conversation(lambda: NOW)
    call.start()
    turn = call.hear(ASK)
    assert turn.action == "answer" and "rendez-vous" in turn.text
    assert turn.parse is not None and turn.parse.intent.name == "id_card_passport"


def test_at_night_a_message_is_mailed_to_the_department_and_listed(brain: Brain,
                                                                   tmp_path: Path) -> None:
    """The switchboard closed: the caller who wants a person leaves a message instead; it
    reaches the service's messages_to through a real SMTP server (aiosmtpd) and the agents'
    list (SQLite), with the callback number."""
    store = StoreSettings(state_dir=tmp_path)
    blocking(store, lambda engine: migrate(engine, None))
    mail = MailServer().start()
    try:
        call = brain.conversation(lambda: datetime(2026, 12, 8, 22, 0))
        call.caller_id = CALLER
        call.errands = ErrandRunner(Connectors(mail=SmtpMailer("127.0.0.1", mail.port)), store)
        call.start()
        offered, listening, callback, left = _say(
            call, "je voudrais parler à quelqu'un", "oui",
            "bonjour je voudrais savoir si mon acte de mariage est prêt", "oui")
    finally:
        mail.stop()
    assert offered.endswith("Voulez-vous laisser un message ?")
    assert listening.startswith("Je vous écoute")
    assert callback == "Voulez-vous être rappelé au numéro qui appelle ?"
    assert left.startswith("Votre message est transmis à l'accueil de la mairie, qui vous rappellera")
    [sent] = mail.messages
    assert sent["To"] == "accueil@villebrune.fr" and CALLER in sent.get_content()
    [kept] = blocking(store, open_messages)
    assert (kept.service, kept.callback, kept.wants_callback) == ("mairie", CALLER, True)
    assert kept.mailed_to == "accueil@villebrune.fr" and kept.call_id == call.call_id


def test_an_answer_with_a_link_offers_it_by_sms_and_sends_it(brain: Brain, smsc: Smsc) -> None:
    sms = SmppSmsSender("127.0.0.1", smsc.port, smsc.system_id, smsc.password, "MAIRIE", 2.0)
    call = brain.conversation(lambda: NOW)
    call.caller_id = "+33633333333"
    call.errands = ErrandRunner(Connectors(sms=sms))
    call.start()
    before = len(smsc.submits())
    answer, sent = _say(call, "comment faire la pré-demande en ligne pour la carte d'identité",
                        "oui par SMS s'il vous plaît")
    assert "Je peux aussi vous envoyer le lien par SMS" in answer
    assert sent.startswith("Je vous envoie le lien par SMS.")
    parts = smsc.submits()[before:]  # accented text: UCS-2, 67 characters a part
    assert parts and all(p["destination_addr"].endswith("633333333") for p in parts)
