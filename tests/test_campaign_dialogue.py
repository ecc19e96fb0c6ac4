"""The outbound call on a fixed clock: what people answer (the French matcher on many
phrasings), then the dialogue of each campaign kind — disclosure, message with the person's
fields, question, yes/no/keys, help, opt-out, silence, hang-up, voicemail — and the wording."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callbot.campaigns import wording
from callbot.campaigns.dialogue import (
    NEEDS_HELP,
    End,
    Event,
    KeyPressed,
    LineDropped,
    Listen,
    MachineAnswered,
    NothingHeard,
    OutboundContext,
    OutboundState,
    PersonAnswered,
    PersonSaid,
    Phase,
    PutThrough,
    Speak,
    TransferEnded,
    decide,
)
from callbot.campaigns.model import CampaignKind, Result
from callbot.campaigns.replies import Reply, classify

R = Reply


@pytest.mark.parametrize(("text", "reply"), [
    # yes, all is well
    ("oui", R.YES), ("Oui.", R.YES), ("ouais", R.YES), ("oui oui", R.YES), ("d'accord", R.YES),
    ("oui merci", R.YES), ("bien sûr", R.YES), ("absolument", R.YES), ("pas de souci", R.YES),
    ("oui ça va", R.FINE), ("ça va", R.FINE), ("ça va merci", R.FINE), ("tout va bien", R.FINE),
    ("je vais bien merci", R.FINE), ("Je vais très bien", R.FINE), ("ça va pas mal", R.FINE),
    ("non non ça va", R.FINE), ("non merci je n'ai besoin de rien", R.FINE),
    ("je n'ai pas besoin d'aide", R.FINE), ("pas besoin", R.FINE), ("très bien merci", R.FINE),
    ("oui ça va et vous comment allez-vous", R.FINE), ("il fait chaud mais ça va", R.FINE),
    ("en pleine forme", R.FINE), ("impeccable", R.FINE),
    # no
    ("non", R.NO), ("Non.", R.NO), ("nan", R.NO), ("non merci", R.NO), ("pas du tout", R.NO),
    # help, distress
    ("j'ai besoin d'aide", R.HELP), ("non j'ai besoin d'aide", R.HELP), ("aidez-moi", R.HELP),
    ("au secours", R.HELP), ("à l'aide", R.HELP), ("je suis tombée", R.HELP),
    ("je suis tombé dans la cuisine", R.HELP), ("je me sens mal", R.HELP),
    ("je ne me sens pas bien", R.HELP), ("ça ne va pas", R.HELP), ("ça va pas", R.HELP),
    ("non ça va pas trop", R.HELP), ("pas très bien", R.HELP), ("bof", R.HELP),
    ("comme ci comme ça", R.HELP), ("j'ai très chaud", R.HELP), ("oui mais j'ai trop chaud", R.HELP),
    ("j'ai mal à la poitrine", R.HELP), ("j'ai la tête qui tourne", R.HELP),
    ("j'ai des vertiges", R.HELP), ("j'ai du mal à respirer", R.HELP),
    ("je n'arrive plus à me lever", R.HELP), ("appelez les pompiers", R.HELP),
    ("il me faut un médecin", R.HELP), ("je veux parler à quelqu'un", R.HELP),
    ("passez-moi une personne", R.HELP), ("oui je voudrais de l'aide pour les courses", R.HELP),
    ("j'ai soif et je n'ai plus d'eau", R.HELP), ("pas la forme", R.HELP),
    ("je suis fatiguée, c'est dur", R.HELP), ("j'ai peur", R.HELP),
    ("non je ne veux pas être rappelée mais je suis tombée", R.HELP),  # distress wins
    # stop calling me
    ("ne plus m'appeler", R.OPT_OUT), ("ne m'appelez plus", R.OPT_OUT),
    ("arrêtez de m'appeler", R.OPT_OUT), ("je ne veux plus être appelé", R.OPT_OUT),
    ("ne me rappelez plus jamais", R.OPT_OUT), ("retirez-moi de la liste", R.OPT_OUT),
    ("stop", R.OPT_OUT), ("désinscrivez-moi", R.OPT_OUT),
    ("pas besoin de me rappeler", R.OPT_OUT), ("ça va, ne m'appelez plus", R.OPT_OUT),
    ("laissez-moi tranquille", R.OPT_OUT),
    # say it again
    ("pardon ?", R.REPEAT), ("vous pouvez répéter", R.REPEAT), ("comment ?", R.REPEAT),
    ("je n'ai pas compris", R.REPEAT), ("j'ai pas entendu", R.REPEAT), ("c'est qui ?", R.REPEAT),
    ("qui est à l'appareil", R.REPEAT), ("quoi", R.REPEAT),
    # none of these
    ("allô ?", R.UNKNOWN), ("euh", R.UNKNOWN), ("", R.UNKNOWN), ("le chat est sur le balcon", R.UNKNOWN),
])
def test_what_people_answer(text: str, reply: Reply) -> None:
    assert classify(text).reply is reply, classify(text)


def test_the_cue_says_which_words_decided() -> None:
    assert classify("oui mais je suis tombée hier").cue == "je suis tombee"


NOW = datetime(2026, 7, 1, 10, 0)
HEATWAVE = OutboundContext(CampaignKind.HEATWAVE, "Villebrune", wording.HEATWAVE_MESSAGE,
                           wording.HEATWAVE_QUESTION, "02 40 12 34 00", name="Madame Martin")
REMINDER = OutboundContext(CampaignKind.REMINDER, "Villebrune",
                           wording.render("Votre passeport est prêt, {nom} : venez le chercher {jour}.",
                                          "Madame Martin", {"jour": "mardi"}), "", "02 40 12 34 00")
QUESTION = OutboundContext(CampaignKind.QUESTION, "Villebrune", "Le repas des aînés a lieu samedi.",
                           wording.with_hint("Viendrez-vous ?"), "02 40 12 34 00")


def play(ctx: OutboundContext, *events: Event) -> tuple[OutboundState, list[list[object]]]:
    state, steps = OutboundState(), []
    for n, event in enumerate((PersonAnswered(), *events)):
        state, actions = decide(state, event, NOW + timedelta(seconds=10 * n), ctx)
        steps.append(actions)
    return state, steps


def said(steps: list[list[object]]) -> list[str]:
    return [a.text for actions in steps for a in actions if isinstance(a, Speak)]


def end_of(steps: list[list[object]]) -> End:
    return next(a for actions in steps for a in actions if isinstance(a, End))


def test_the_call_opens_with_the_disclosure_the_message_and_the_question() -> None:
    _, steps = play(HEATWAVE)
    assert steps[0] == [
        Speak("Bonjour Madame Martin, ceci est un appel automatisé de la mairie de Villebrune : "
              "vous parlez à un assistant vocal, pas à une personne."),
        Speak(wording.HEATWAVE_MESSAGE),
        Speak("Tout va bien pour vous ? Dites oui ou non, ou tapez 1 ou 2."),
        Listen(6.0)]


@pytest.mark.parametrize(("events", "result"), [
    ([PersonSaid("oui")], Result.FINE),
    ([KeyPressed("1")], Result.FINE),
    ([PersonSaid("ça va merci")], Result.FINE),
    ([PersonSaid("allô ?"), PersonSaid("oui oui")], Result.FINE),
    ([NothingHeard(), PersonSaid("oui")], Result.FINE),
    ([PersonSaid("pardon ?"), PersonSaid("oui")], Result.FINE),
    ([PersonSaid("non"), TransferEnded(True)], Result.TRANSFERRED),
    ([KeyPressed("2"), TransferEnded(True)], Result.TRANSFERRED),
    ([KeyPressed("0"), TransferEnded(True)], Result.TRANSFERRED),
    ([PersonSaid("non j'ai besoin d'aide"), TransferEnded(True)], Result.TRANSFERRED),
    ([PersonSaid("je suis tombée"), TransferEnded(False)], Result.CALLBACK),
    ([NothingHeard(), NothingHeard(), TransferEnded(True)], Result.TRANSFERRED),
    ([PersonSaid("euh"), NothingHeard(), TransferEnded(False)], Result.CALLBACK),
    ([PersonSaid("non"), LineDropped()], Result.CALLBACK),  # hung up while put through
    ([PersonSaid("ne m'appelez plus")], Result.OPTED_OUT),
    ([LineDropped()], Result.HUNG_UP),
    ([KeyPressed("5"), KeyPressed("7")], None),  # two unknown keys: help, still transferring
])
def test_heatwave_check(events: list[Event], result: Result | None) -> None:
    state, steps = play(HEATWAVE, *events)
    if result is None:
        assert state.phase is Phase.TRANSFERRING and PutThrough(NEEDS_HELP) in steps[-1]
        return
    assert state.phase is Phase.DONE and end_of(steps).result is result
    assert sum(isinstance(a, End) for actions in steps for a in actions) == 1


def test_yes_says_goodbye_with_the_town_number() -> None:
    _, steps = play(HEATWAVE, PersonSaid("oui"))
    assert steps[-1] == [Speak(wording.FINE_GOODBYE.format(callback="02 40 12 34 00")),
                         End(Result.FINE, "yes: oui")]


def test_help_goes_to_the_agent_and_a_failed_transfer_promises_a_callback() -> None:
    _, steps = play(HEATWAVE, PersonSaid("j'ai très chaud"), TransferEnded(False))
    assert steps[1] == [Speak(wording.TRANSFER), PutThrough(NEEDS_HELP)]
    assert steps[2] == [Speak(wording.CALLBACK),
                        End(Result.CALLBACK, "help: j'ai tres chaud; nobody took the transfer")]


def test_without_an_agent_on_duty_help_is_a_callback_at_once() -> None:
    ctx = OutboundContext(**{**HEATWAVE.__dict__, "transfer": False})
    _, steps = play(ctx, PersonSaid("non"))
    assert steps[-1] == [Speak(wording.CALLBACK), End(Result.CALLBACK, "no: non; no agent on duty")]


def test_silence_twice_on_a_heatwave_check_is_help() -> None:
    _, steps = play(HEATWAVE, NothingHeard(), NothingHeard())
    assert steps[1] == [Speak(f"{wording.NOT_HEARD} {wording.HEATWAVE_QUESTION}"), Listen(6.0)]
    assert steps[2][-1] == PutThrough(NEEDS_HELP)


def test_repeat_says_the_message_again_twice_at_most() -> None:
    _, steps = play(HEATWAVE, PersonSaid("pardon ?"), PersonSaid("répétez"), PersonSaid("comment ?"))
    assert steps[1][0] == Speak(f"Je répète. {wording.HEATWAVE_MESSAGE}")
    assert steps[2][0] == Speak(f"Je répète. {wording.HEATWAVE_MESSAGE}")
    assert steps[3][0] == Speak(f"{wording.NOT_UNDERSTOOD} {wording.HEATWAVE_QUESTION}")


def test_a_call_that_runs_too_long_goes_to_a_person() -> None:
    state, _ = play(HEATWAVE)
    state, actions = decide(state, PersonSaid("euh"), NOW + timedelta(minutes=6), HEATWAVE)
    assert actions[-1] == PutThrough(NEEDS_HELP) and "too long" in state.why


@pytest.mark.parametrize(("events", "result"), [
    ([NothingHeard()], Result.DELIVERED),
    ([PersonSaid("merci au revoir")], Result.DELIVERED),
    ([PersonSaid("répéter"), NothingHeard()], Result.DELIVERED),
    ([KeyPressed("*"), KeyPressed("*"), KeyPressed("*")], Result.DELIVERED),
    ([PersonSaid("j'ai besoin d'aide"), TransferEnded(True)], Result.TRANSFERRED),
    ([PersonSaid("non"), TransferEnded(True)], Result.DELIVERED),  # a no is no alarm here…
    ([PersonSaid("ne plus m'appeler")], Result.OPTED_OUT),
    ([LineDropped()], Result.HUNG_UP),
])
def test_reminder(events: list[Event], result: Result) -> None:
    state, steps = play(REMINDER, *events)
    assert end_of(steps).result is result


def test_a_reminder_says_the_fields_of_the_person() -> None:
    _, steps = play(REMINDER)
    assert said(steps)[1] == "Votre passeport est prêt, Madame Martin : venez le chercher mardi."
    assert said(steps)[2] == wording.REMINDER_CLOSING


@pytest.mark.parametrize(("events", "result"), [
    ([PersonSaid("oui")], Result.YES),
    ([KeyPressed("1")], Result.YES),
    ([PersonSaid("non")], Result.NO),
    ([KeyPressed("2")], Result.NO),
    ([PersonSaid("ça va")], None),  # not an answer to this question: asked again
    ([NothingHeard(), NothingHeard()], Result.NO_REPLY),
    ([PersonSaid("euh"), PersonSaid("le chat")], Result.NO_REPLY),
    ([PersonSaid("je suis tombée"), TransferEnded(True)], Result.TRANSFERRED),
    ([PersonSaid("stop")], Result.OPTED_OUT),
])
def test_free_question(events: list[Event], result: Result | None) -> None:
    state, steps = play(QUESTION, *events)
    if result is None:
        assert steps[-1][-1] == Listen(6.0) and state.prompts == 2
        return
    assert end_of(steps).result is result


def test_the_question_always_says_how_to_answer() -> None:
    assert QUESTION.question == "Viendrez-vous ? Dites oui ou non, ou tapez 1 ou 2."
    assert wording.with_hint(wording.HEATWAVE_QUESTION) == wording.HEATWAVE_QUESTION


def test_voicemail_gets_the_short_message_once_without_personal_details() -> None:
    state, actions = decide(OutboundState(), MachineAnswered(), NOW, HEATWAVE)
    assert actions == [
        Speak("Bonjour, ceci est un message automatisé de la mairie de Villebrune, qui prend des "
              "nouvelles des personnes inscrites pendant l'alerte canicule. Merci de rappeler la "
              "mairie au 02 40 12 34 00. Au revoir."),
        End(Result.VOICEMAIL, "answering machine, message left", True)]
    assert "Martin" not in actions[0].text
    ctx = OutboundContext(**{**HEATWAVE.__dict__, "leave_voicemail": False})
    _, actions = decide(OutboundState(), MachineAnswered(), NOW, ctx)
    assert actions == [End(Result.VOICEMAIL, "answering machine, message left before")]


def test_nothing_happens_after_the_end() -> None:
    state, _ = play(HEATWAVE, PersonSaid("oui"))
    assert decide(state, PersonSaid("non"), NOW, HEATWAVE) == (state, [])


@pytest.mark.parametrize(("template", "fields", "error"), [
    ("Bonjour {nom}, rendez-vous {date_du_rdv}.", ("date_du_rdv",), None),
    ("Rendez-vous {date}.", ("date_du_rdv",), "the message uses {date}, which the list has no "
                                               "column for (it has: {nom}, {date_du_rdv})"),
    ("Rendez-vous {date", (), "the message cannot be read"),
    ("Rendez-vous {}.", (), "'{}' is not a field name"),
    ("Rendez-vous {date:>3}.", ("date",), "'{date}' is not a field name"),
])
def test_message_fields_are_checked_against_the_list(template: str, fields: tuple[str, ...],
                                                     error: str | None) -> None:
    if error is None:
        assert wording.check_fields(template, fields) == ["nom", "date_du_rdv"]
        return
    with pytest.raises(wording.MessageError) as caught:
        wording.check_fields(template, fields)
    assert error in str(caught.value)
