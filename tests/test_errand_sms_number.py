"""An SMS to a number the caller says (issue 15, item 2): asked when the calling number is
hidden or a landline, or when the caller wants it elsewhere; read back in pairs; sent only
after a yes. The dialogue turn by turn (pure), then whole conversations (real NLU and
knowledge base) sending through the node.js SMSC (tests/fixtures/smsc), a booking in Radicale,
and the call log's records of them: the number redacted however it was said."""

from __future__ import annotations

from datetime import datetime

import pytest
from errand_servers import Radicale, Smsc

from callbot.brain import Brain
from callbot.conversation.call_events import CallEvent, TurnTaken
from callbot.conversation.model import TurnAction
from callbot.conversation.session import Conversation
from callbot.errands import sms_number as n
from callbot.errands.booking import SMS_SENT, Handover, HandoverReason, SendSms
from callbot.errands.connectors.caldav_calendar import CalDavCalendar
from callbot.errands.connectors.factory import Connectors
from callbot.errands.connectors.smpp_sms import SmppSmsSender
from callbot.errands.runner import ErrandRunner
from callbot.store.records import to_record
from tests.test_errand_dialogue import radicale, smsc  # noqa: F401  (servers of this module)

NOW = datetime(2026, 12, 8, 10, 0)  # a Tuesday morning, the état civil open
PAIRS = "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit"
SAID = "zéro six douze trente-quatre cinquante-six soixante-dix-huit"
TEXT = "Rendez-vous au service état civil le jeudi 10 décembre à 8h30, au nom de Dupont."
SEND = SendSms(TEXT)
SENT = SendSms(TEXT, to="+33612345678")
READ_BACK = f"Je répète : {PAIRS}. C'est bien ça ?"
READ_BACK_07 = ("Je répète : zéro sept, douze, trente-quatre, cinquante-six, soixante-dix-huit. "
                "C'est bien ça ?")

# (what the caller says, what the bot says, what it then sends), one row a turn
DIALOGUES: dict[str, tuple[n.Why, list[tuple[str, str, list[object]]]]] = {
    "hidden number, said in pairs": (n.Why.HIDDEN, [
        ("", f"{n.HIDDEN} {n.ASK}", []),
        (f"c'est le {SAID}", READ_BACK, []),
        ("oui c'est ça", SMS_SENT, [SENT])]),
    "a landline calling": (n.Why.LANDLINE, [
        ("", f"{n.LANDLINE} {n.ASK}", []),
        ("06 12 34 56 78", READ_BACK, []),
        ("oui", SMS_SENT, [SENT])]),
    "in two goes": (n.Why.ELSEWHERE, [
        ("", n.ASK, []),
        ("zéro six douze", n.REST, []),
        ("trente-quatre cinquante-six soixante-dix-huit", READ_BACK, []),
        ("oui", SMS_SENT, [SENT])]),
    "no, then the right one": (n.Why.ELSEWHERE, [
        ("", n.ASK, []),
        ("zéro sept douze trente-quatre cinquante-six soixante-dix-huit",
         READ_BACK_07, []),
        ("non", n.WRONG, []),
        (SAID, READ_BACK, []),
        ("oui", SMS_SENT, [SENT])]),
    "no, and the right one at once": (n.Why.ELSEWHERE, [
        ("", n.ASK, []),
        ("zéro sept douze trente-quatre cinquante-six soixante-dix-huit",
         READ_BACK_07, []),
        (f"non c'est le {SAID}", READ_BACK, []),
        ("oui", SMS_SENT, [SENT])]),
    "a landline given": (n.Why.ELSEWHERE, [
        ("", n.ASK, []),
        ("zéro deux quarante douze trente-quatre zéro zéro", n.NOT_MOBILE, []),
        ("plus trente-trois six douze trente-quatre cinquante-six soixante-dix-huit",
         READ_BACK, []),
        ("oui", SMS_SENT, [SENT])]),
    "neither yes nor no to the read-back": (n.Why.ELSEWHERE, [
        ("", n.ASK, []),
        (SAID, READ_BACK, []),
        ("pardon ?", f"C'est bien le {PAIRS} ? Oui ou non ?", []),
        ("oui", SMS_SENT, [SENT])]),
    "never understood": (n.Why.HIDDEN, [
        ("", f"{n.HIDDEN} {n.ASK}", []),
        ("je ne sais plus", n.NOT_UNDERSTOOD, []),
        ("attendez il est où", n.NOT_UNDERSTOOD, []),
        ("bon", n.TOO_HARD, [])]),
    "given up": (n.Why.ELSEWHERE, [
        ("", n.ASK, []),
        ("non laissez tomber", n.GIVE_UP, [])]),
    "a person asked": (n.Why.ELSEWHERE, [
        ("", n.ASK, []),
        ("je veux parler à un agent", n.TO_A_PERSON,
         [Handover(HandoverReason.CALLER_ASKED)])]),
}


@pytest.mark.parametrize("name", DIALOGUES)
def test_dialogue(name: str) -> None:
    why, turns = DIALOGUES[name]
    state, says, effects = n.start(SEND, SMS_SENT, why)
    for number, (caller, bot, sent) in enumerate(turns):
        if number:
            state, says, effects = n.step(state, n.CallerText(caller), NOW)
        assert " ".join(s.text for s in says) == bot, (name, number, caller)
        assert effects == sent, (name, number)
    assert state.finished


def test_a_number_in_the_first_sentence_is_read_back_at_once() -> None:
    state, says, effects = n.start(SEND, SMS_SENT, n.Why.ELSEWHERE,
                                   f"oui mais envoyez-le au {SAID}")
    assert [s.text for s in says] == [READ_BACK] and effects == []
    assert state.step is n.Step.CONFIRM
    _, says, effects = n.step(state, n.CallerText("oui"), NOW)
    assert effects == [SENT] and says[0].action is TurnAction.ANSWER


def _call(brain: Brain, smsc: Smsc, caller: str | None,  # noqa: F811
          calendar: CalDavCalendar | None = None) -> tuple[Conversation, list[CallEvent]]:
    events: list[CallEvent] = []
    sms = SmppSmsSender("127.0.0.1", smsc.port, smsc.system_id, smsc.password, "MAIRIE", 2.0)
    call = brain.conversation(lambda: NOW)
    call.caller_id = caller
    call.sinks.append(events.append)
    call.errands = ErrandRunner(Connectors(calendar=calendar, sms=sms))
    call.start()
    return call, events


def _logged(events: list[CallEvent]) -> str:
    """Every turn's caller and bot text as the call log stores them."""
    records = [to_record(e, i, b"key") for i, e in enumerate(events) if isinstance(e, TurnTaken)]
    return "\n".join(f"{r['caller_text']}\n{r['bot_text']}" for r in records)


def test_a_hidden_caller_gets_the_booking_confirmation_at_the_number_said(
        brain: Brain, smsc: Smsc, radicale: Radicale) -> None:  # noqa: F811
    calendar = CalDavCalendar(radicale.url, "hidden", "any", 2.0, {"etat-civil": "etat-civil"})
    call, events = _call(brain, smsc, "anonymous", calendar)
    *_, booked = [call.hear(line).text for line in (
        "je voudrais prendre rendez-vous pour refaire ma carte d'identité", "jeudi matin",
        "le premier", "Dupont", "oui")]
    assert booked.endswith("la confirmation par SMS ?")
    before = len(smsc.submits())
    asked = call.hear("oui").text
    assert asked == f"{n.HIDDEN} {n.ASK}"
    assert call.hear(f"oui c'est le {SAID}").text == READ_BACK
    assert len(smsc.submits()) == before  # nothing leaves before the yes
    sent = call.hear("oui c'est bien ça")
    assert sent.text.startswith(f"{SMS_SENT} ") and sent.action == "answer"
    parts = smsc.submits()[before:]
    assert parts and all(p["destination_addr"].endswith("612345678") for p in parts)
    logged = _logged(events)
    assert logged.count("[phone]") == 2  # what the caller said, what the bot read back
    assert not any(word in logged for word in ("cinquante-six", "soixante-dix-huit", "78")), \
        logged  # (the question's example, "zéro six, douze, trente-quatre", is no number)


def test_a_link_goes_to_another_number_after_a_corrected_read_back(
        brain: Brain, smsc: Smsc) -> None:  # noqa: F811
    call, events = _call(brain, smsc, "+33633333333")
    answer = call.hear("comment faire la pré-demande en ligne pour la carte d'identité").text
    assert "Je peux aussi vous envoyer le lien par SMS" in answer
    before = len(smsc.submits())
    assert call.hear("par SMS mais sur un autre numéro").text == n.ASK
    wrong = call.hear("zéro sept douze trente-quatre cinquante-six soixante-dix-huit").text
    assert wrong.startswith("Je répète : zéro sept, douze")
    assert call.hear("non").text == n.WRONG
    assert call.hear("06 12 34 56 78").text == READ_BACK
    assert len(smsc.submits()) == before
    sent = call.hear("oui").text
    assert sent.startswith("Je vous envoie le lien par SMS.") and sent.endswith("?")
    parts = smsc.submits()[before:]
    assert parts and all(p["destination_addr"].endswith("612345678") for p in parts)
    assert "ants.gouv.fr" not in _logged(events)  # the SMS text is never in the log


def test_from_a_landline_the_link_is_not_sent_unless_a_mobile_is_given(
        brain: Brain, smsc: Smsc) -> None:  # noqa: F811
    call, _ = _call(brain, smsc, "+33240123400")
    call.hear("comment faire la pré-demande en ligne pour la carte d'identité")
    before = len(smsc.submits())
    assert call.hear("envoyez-moi le lien par SMS").text == f"{n.LANDLINE} {n.ASK}"
    given_up = call.hear("non laissez tomber")
    assert given_up.text.startswith(n.GIVE_UP) and not call.ended
    assert len(smsc.submits()) == before
