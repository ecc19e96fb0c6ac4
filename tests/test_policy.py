"""The pure policy, driven by hand-made parse results and a fixed clock."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from callbot.conversation import prompts
from callbot.conversation.model import (
    CallerSaid,
    CallStarted,
    CallState,
    DtmfPressed,
    Expecting,
    Hangup,
    Say,
    ServiceStopping,
    SilenceTimeout,
    SystemFailure,
    Transfer,
    TransferReason,
    TurnAction,
)
from callbot.conversation.policy import PolicyContext, PolicyParams, answer_rule, decide
from callbot.kb.model import KnowledgeBase
from callbot.nlu.evaluation import evaluate
from callbot.nlu.result import IntentScore, ParseResult
from tests.conftest import at

OPEN = at("2026-12-01T10:30")  # a Tuesday morning, switchboard open
CLOSED = at("2026-12-01T21:00")


def said(intent: str, confidence: float = 0.95, *ranking: tuple[str, float]) -> CallerSaid:
    scores = tuple(IntentScore(n, c) for n, c in ranking) or (IntentScore(intent, confidence),)
    return CallerSaid(ParseResult("…", IntentScore(intent, confidence), (), scores))


@pytest.fixture
def ctx(kb: KnowledgeBase) -> PolicyContext:
    return PolicyContext(kb, PolicyParams(answer_threshold=0.6, call_time_limit_sec=600))


def started(ctx: PolicyContext, now: datetime = OPEN) -> CallState:
    state, actions = decide(CallState(), CallStarted(), now, ctx)
    assert isinstance(actions[0], Say)
    return state


def test_greeting_says_it_is_automated_and_how_to_reach_a_person(ctx: PolicyContext) -> None:
    _, [greeting] = decide(CallState(), CallStarted(), OPEN, ctx)
    assert "assistant automatique" in greeting.text and "personne" in greeting.text


def test_confident_topic_is_answered_with_its_why(ctx: PolicyContext) -> None:
    state, [say] = decide(started(ctx), said("id_card_passport", 0.9), OPEN, ctx)
    assert say.action is TurnAction.ANSWER and state.expecting is Expecting.DETAILS
    assert (say.why.intent, say.why.kb_entry, say.why.kb_revision) == (
        "id_card_passport", "id_card_passport", ctx.kb.revision)
    state, [details] = decide(state, said("affirm"), OPEN, ctx)
    assert details.text.startswith(ctx.kb.topics["id_card_passport"].details[:20])
    assert details.text.endswith(prompts.OFFER_MORE) and state.expecting is Expecting.DETAILS
    state, [enough] = decide(state, said("deny"), OPEN, ctx)  # no more details, thanks
    assert enough.text == prompts.ANYTHING_ELSE
    state, actions = decide(state, said("deny"), OPEN, ctx)
    assert isinstance(actions[-1], Hangup) and state.ended


def test_details_come_two_sentences_at_a_time_until_none_are_left(ctx: PolicyContext) -> None:
    details = ctx.kb.topics["id_card_passport"].details
    state, _ = decide(started(ctx), said("id_card_passport", 0.9), OPEN, ctx)
    heard = []
    for _ in range(10):
        state, [say] = decide(state, said("affirm"), OPEN, ctx)
        heard.append(say.text)
        if say.text.endswith(prompts.ANYTHING_ELSE):
            break
    pieces = [t.removesuffix(prompts.OFFER_MORE).removesuffix(prompts.ANYTHING_ELSE).strip()
              for t in heard]
    assert " ".join(pieces) == " ".join(details.split())
    assert all(len(re.findall(r"[.!?](?:\s|$)", p)) <= 2 for p in pieces) and len(pieces) > 1


def test_goodbye_follows_the_clock(ctx: PolicyContext) -> None:
    late = datetime(2026, 12, 1, 22, 30)
    state, _ = decide(CallState(), CallStarted(), late, ctx)
    _, actions = decide(state, said("goodbye", 0.95), late, ctx)
    assert "bonne soirée" in actions[0].text and "bonne journée" not in actions[0].text


def test_low_confidence_clarifies_naming_two_topics_then_transfers(ctx: PolicyContext) -> None:
    ranking = (("id_card_passport", 0.45), ("civil_status_certificate", 0.3), ("pacs", 0.05))
    state, [say] = decide(started(ctx), said("id_card_passport", 0.45, *ranking), OPEN, ctx)
    assert say.action is TurnAction.CLARIFY
    assert say.text == ("Vous parlez de la carte d'identité ou le passeport ou "
                        "d'une demande d'acte d'état civil ?")
    state, actions = decide(state, said("nlu_fallback", 0.3, ("events", 0.2)), OPEN, ctx)
    assert actions[-1] == Transfer(TransferReason.NOT_UNDERSTOOD)


def test_clarification_answer_picks_the_candidate(ctx: PolicyContext) -> None:
    ranking = (("school_canteen", 0.4), ("school_enrolment", 0.35))
    state, _ = decide(started(ctx), said("school_canteen", 0.4, *ranking), OPEN, ctx)
    reply = said("school_enrolment", 0.5, ("school_enrolment", 0.5), ("after_school", 0.3))
    state, [say] = decide(state, reply, OPEN, ctx)
    assert say.action is TurnAction.ANSWER and say.why.kb_entry == "school_enrolment"


@pytest.mark.parametrize(
    ("event", "reason"),
    [(said("request_human"), TransferReason.CALLER_ASKED),
     (DtmfPressed("0"), TransferReason.DTMF_ZERO),
     (SystemFailure("tts"), TransferReason.FAILURE),
     (ServiceStopping(), TransferReason.SHUTDOWN)],
)
def test_transfers_when_open(ctx: PolicyContext, event: object, reason: TransferReason) -> None:
    state, actions = decide(started(ctx), event, OPEN, ctx)  # type: ignore[arg-type]
    assert actions[-1] == Transfer(reason) and state.ended


def test_outside_hours_says_when_people_are_back(ctx: PolicyContext) -> None:
    state, actions = decide(started(ctx, CLOSED), said("request_human"), CLOSED, ctx)
    assert not any(isinstance(a, Transfer) for a in actions)
    assert "mercredi 2 décembre à 8h30" in actions[0].text or "demain à 8h30" in actions[0].text
    assert not state.ended


def test_failure_outside_hours_ends_politely(ctx: PolicyContext) -> None:
    state, actions = decide(started(ctx, CLOSED), SystemFailure("stt"), CLOSED, ctx)
    assert isinstance(actions[-1], Hangup) and state.ended


def test_time_limit_transfers(ctx: PolicyContext) -> None:
    state = started(ctx)
    later = OPEN + timedelta(seconds=601)
    _, actions = decide(state, said("pacs"), later, ctx)
    assert actions[-1] == Transfer(TransferReason.TIME_LIMIT)


def test_out_of_scope_offers_a_person(ctx: PolicyContext) -> None:
    state, [say] = decide(started(ctx), said("out_of_scope", 0.8), OPEN, ctx)
    assert state.expecting is Expecting.TRANSFER_OFFER and "personne" in say.text
    _, actions = decide(state, said("affirm"), OPEN, ctx)
    assert actions[-1] == Transfer(TransferReason.OUT_OF_SCOPE)


def test_repeat_silence_and_dtmf(ctx: PolicyContext) -> None:
    state, [answer] = decide(started(ctx), said("pacs"), OPEN, ctx)
    state, [again] = decide(state, said("repeat"), OPEN, ctx)
    assert again.text == "Je répète : " + answer.text
    state, [again2] = decide(state, DtmfPressed("*"), OPEN, ctx)
    assert again2.text == again.text
    state, [reprompt] = decide(state, SilenceTimeout(), OPEN, ctx)
    assert reprompt.action is TurnAction.REPROMPT
    state, actions = decide(state, SilenceTimeout(), OPEN, ctx)
    assert actions[-1] == Hangup("silence") and state.ended
    assert decide(state, said("pacs"), OPEN, ctx) == (state, [])


def test_shaky_transcript_is_not_answered_directly(ctx: PolicyContext) -> None:
    event = replace(said("pacs", 0.95, ("pacs", 0.95), ("marriage", 0.04)), asr_confidence=0.3)
    _, [say] = decide(started(ctx), event, OPEN, ctx)
    assert say.action is TurnAction.CLARIFY


def test_answer_after_clarification_keeps_the_question_day(ctx: PolicyContext) -> None:
    question = ParseResult("la mairie sera ouverte le 24 décembre",
                           IntentScore("opening_hours", 0.5), (),
                           (IntentScore("opening_hours", 0.5), IntentScore("pacs", 0.01)))
    state, [clarify] = decide(started(ctx), CallerSaid(question), OPEN, ctx)
    assert clarify.action is TurnAction.CLARIFY
    _, [answer] = decide(state, said("affirm"), OPEN, ctx)
    assert answer.why.kb_entry == "opening_hours" and "veille de Noël" in answer.text


def test_eval_counts_confident_wrong_with_the_policys_own_rule(ctx: PolicyContext) -> None:
    """``nlu eval`` scores a parse as answered exactly when ``decide`` answers its topic."""
    asked = {  # text: (gold intent, what the NLU said)
        "wrong and sure": ("marriage", said("pacs", 0.9)),
        "wrong at the threshold": ("marriage", said("pacs", 0.6)),
        "wrong but unsure": ("marriage", said("pacs", 0.45, ("pacs", 0.45), ("marriage", 0.4))),
        "right and sure": ("marriage", said("marriage", 0.8)),
        "out of scope taken for a topic": ("out_of_scope", said("jobs", 0.7)),
        "out of scope seen": ("out_of_scope", said("out_of_scope", 0.9)),
    }
    parses = {text: replace(event.parse, text=text) for text, (_, event) in asked.items()}
    answers = answer_rule(ctx.params)
    for parse in parses.values():
        _, [say, *_] = decide(started(ctx), CallerSaid(parse), OPEN, ctx)
        assert answers(parse) == (say.action is TurnAction.ANSWER and say.why.kb_entry is not None)
    report = evaluate(parses.__getitem__, [(gold, text) for text, (gold, _) in asked.items()],
                      answers)
    assert report.confident_wrong_rate == 3 / 6
    assert report.answered_correct_rate == 1 / 4
    assert report.out_of_scope_recall == 1 / 2
