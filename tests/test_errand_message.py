"""The message dialogue, pure: declined, too short, no known number, not left."""

from __future__ import annotations

from datetime import datetime

from callbot.errands import message

NOW = datetime(2026, 12, 8, 22, 0)


def _start(can_call_back: bool = True) -> message.MessageState:
    return message.offer("etat_civil", "le service état civil", "ec@villebrune.fr",
                         "02 40 12 34 10", can_call_back)


def _hear(state: message.MessageState, text: str) -> message.Decision:
    return message.step(state, message.CallerText(text), NOW)


def test_a_no_leaves_nothing() -> None:
    state, says, effects = _hear(_start(), "non merci")
    assert state.finished and effects == [] and says[0].text == message.NOT_TAKEN


def test_a_mumble_is_no_message_and_an_unknown_number_is_not_offered_a_callback() -> None:
    state, _, _ = _hear(_start(can_call_back=False), "oui")
    state, says, effects = _hear(state, "euh")
    assert says[0].text == message.LISTEN and effects == []
    state, says, effects = _hear(state, "mon acte de naissance est-il prêt ?")
    assert says == [] and effects == [message.LeaveMessage(
        "etat_civil", "ec@villebrune.fr", "mon acte de naissance est-il prêt ?", False)]
    state, says, _ = message.step(state, message.MessageLeft(ok=True), NOW)
    assert state.finished and says[0].text == "Votre message est transmis au service état civil."


def test_a_message_that_could_not_leave_says_when_to_call() -> None:
    state, _, _ = _hear(_start(), "oui")
    state, _, _ = _hear(state, "je voudrais un rendez-vous pour un mariage")
    state, says, _ = _hear(state, "peut-être")
    assert says[0].text == message.YES_OR_NO
    state, _, effects = _hear(state, "non")
    assert effects[0].wants_callback is False
    state, says, _ = message.step(state, message.MessageLeft(ok=False), NOW)
    assert "02 40 12 34 10" in says[0].text and state.finished
