"""The conversation policy: ``decide(state, event, now, context) → (state, actions)``.

Pure and synchronous: time comes in as ``now``, the knowledge base as a value. The same
code serves the terminal chat, scenario files, WebSocket and SIP calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from callbot.conversation import prompts
from callbot.conversation.errands import (
    LINK_OFFER,
    LINK_SENDING,
    ErrandDecision,
    ErrandOptions,
    SendLink,
    SmsNotSent,
    ask_number_if_needed,
    asks_sms,
    errand_hears,
    errand_learns,
    link_by_sms,
    link_sms,
    offer_message,
    open_errand,
)
from callbot.conversation.model import (
    Action,
    CallerSaid,
    CallStarted,
    CallState,
    DtmfPressed,
    ErrandEffect,
    ErrandOutcome,
    Event,
    Expecting,
    Hangup,
    Say,
    ServiceStopping,
    SilenceTimeout,
    SystemFailure,
    Tick,
    Transfer,
    TransferReason,
    TurnAction,
    Why,
)
from callbot.errands import booking, message
from callbot.kb.answers import Answer, answer_topic
from callbot.kb.french import with_preposition
from callbot.kb.hours import format_moment, is_open, next_opening
from callbot.kb.model import KnowledgeBase
from callbot.nlu.intents import NLU_FALLBACK, OUT_OF_SCOPE, is_topic
from callbot.nlu.result import ParseResult

#: An appointment asked for opens the booking of the first of this many closest topics whose
#: service takes appointments (the booking reads back the service before it books).
ERRAND_NEAR_TOPICS = 3
#: A topic must reach this probability to be named in a clarification question.
CANDIDATE_MIN_CONFIDENCE = 0.12
#: A yes/no worded with other words ("oui merci") still counts above this probability.
YES_NO_MIN_CONFIDENCE = 0.2
#: Intents that may carry a yes or a no: "oui merci", "non bonjour".
_POLITE_INTENTS = frozenset({"thanks", "greet", "affirm", "deny"})
#: Dialogue intents that end or replay something need this much confidence.
_CAREFUL_INTENTS = frozenset({"goodbye", "repeat"})
#: Below this mean word confidence, a transcript is too shaky to answer from directly.
ASR_MIN_CONFIDENCE = 0.5
#: Transfer reasons after which the call goes on when nobody can take it.
_CALLER_CHOICES = frozenset(
    {TransferReason.CALLER_ASKED, TransferReason.DTMF_ZERO, TransferReason.OUT_OF_SCOPE}
)

Decision = tuple[CallState, list[Action]]
_NO_WHY = Why()


@dataclass(frozen=True)
class PolicyParams:
    answer_threshold: float = 0.6
    call_time_limit_sec: float = 600.0
    max_misunderstandings: int = 2
    max_silences: int = 2


@dataclass(frozen=True)
class PolicyContext:
    kb: KnowledgeBase
    params: PolicyParams = PolicyParams()
    errands: ErrandOptions = ErrandOptions()


def decide(state: CallState, event: Event, now: datetime, ctx: PolicyContext) -> Decision:
    """Everything the bot does in answer to one event."""
    if state.ended:
        return state, []
    if isinstance(event, CallStarted):
        greeting = prompts.GREETING.format(town=ctx.kb.town)
        return _say(replace(state, started_at=now), greeting, TurnAction.ANSWER, Why())
    elapsed = (now - state.started_at).total_seconds() if state.started_at else 0.0
    if elapsed >= ctx.params.call_time_limit_sec:
        return _transfer(state, TransferReason.TIME_LIMIT, now, ctx)
    match event:
        case Tick():
            return state, []
        case SystemFailure():
            return _transfer(state, TransferReason.FAILURE, now, ctx)
        case ServiceStopping():
            return _transfer(state, TransferReason.SHUTDOWN, now, ctx)
        case SilenceTimeout():
            return _on_silence(state, ctx)
        case DtmfPressed(digit="0"):
            return _transfer(state, TransferReason.DTMF_ZERO, now, ctx)
        case DtmfPressed(digit="*"):
            return _repeat(state)
        case DtmfPressed():
            return _say(state, prompts.DTMF_HELP, TurnAction.REPROMPT, Why())
        case ErrandOutcome(outcome=SmsNotSent() as failed):
            return _say(state, f"{failed.text} {prompts.ANYTHING_ELSE}", TurnAction.ANSWER,
                        Why(), Expecting.ANYTHING_ELSE)
        case ErrandOutcome(outcome=outcome) if state.errand is not None:
            return _errand(state, errand_learns(state.errand, outcome, now), now, ctx, Why())
        case CallerSaid() if state.errand is not None:
            heard = errand_hears(state.errand, event.parse.text, event.asr_confidence, now)
            heard = ask_number_if_needed(heard, ctx.errands, event.parse.text)
            return _errand(replace(state, silences=0), heard, now, ctx, _why(event.parse, ctx))
        case CallerSaid():
            return _on_utterance(replace(state, silences=0), event, now, ctx)
    return state, []


def _link_asked(state: CallState, parse: ParseResult, now: datetime,
                ctx: PolicyContext) -> Decision | None:
    """"Envoyez-moi le lien par SMS" after an answer that has one: sent to the calling number,
    or to the one the caller gives (asked and read back first)."""
    topic = ctx.kb.topics.get(state.topic or "")
    if topic is None or not topic.link or not ctx.errands.sms or not asks_sms(parse.text):
        return None
    why = _why(parse, ctx, topic.id)
    send = SendLink(link_sms(ctx.kb.town, topic))
    number = link_by_sms(send, ctx.errands, parse.text)
    if number is not None:
        return _errand(state, number, now, ctx, why)
    say = Say(f"{LINK_SENDING} {prompts.ANYTHING_ELSE}", TurnAction.ANSWER, why)
    return replace(state, last_say=say, expecting=Expecting.ANYTHING_ELSE), [
        say, ErrandEffect(send)]


def _errand(state: CallState, decision: ErrandDecision, now: datetime, ctx: PolicyContext,
            why: Why) -> Decision:
    """The errand dialogue's sayings and effects as the call's actions; when it is over, the
    call goes on ("autre chose ?") or, if it handed over, to a person."""
    errand, says, effects = decision
    handover = next((e for e in effects if isinstance(e, booking.Handover)), None)
    state = replace(state, errand=None if errand.finished else errand, misunderstandings=0)
    actions: list[Action] = [replace(say, why=why) for say in says]  # type: ignore[misc]
    if handover is not None:
        if not is_open(ctx.kb.switchboard_service, now):
            return _transfer(state, TransferReason.CALLER_ASKED, now, ctx, why)
        last = actions[-1] if actions else Say(prompts.TRANSFER, TurnAction.TRANSFER, why)
        reason = (TransferReason.CALLER_ASKED if handover.reason == "caller_asked"
                  else TransferReason.NOT_UNDERSTOOD if handover.reason == "not_understood"
                  else TransferReason.FAILURE)
        return replace(state, ended=True, last_say=last), [*actions, Transfer(reason)]
    actions += [ErrandEffect(e) for e in effects]
    if errand.finished:
        done = Say(prompts.ANYTHING_ELSE, TurnAction.ANSWER, why)
        return replace(state, last_say=done, expecting=Expecting.ANYTHING_ELSE), [*actions, done]
    last_say = next((a for a in reversed(actions) if isinstance(a, Say)), state.last_say)
    return replace(state, last_say=last_say, expecting=Expecting.QUESTION), actions


def _say(state: CallState, text: str, action: TurnAction, why: Why,
         expecting: Expecting | None = None) -> Decision:
    say = Say(text, action, why)
    new_state = replace(state, last_say=say, expecting=expecting or state.expecting)
    return new_state, [say]


def _end(state: CallState, text: str, reason: str, why: Why = _NO_WHY) -> Decision:
    say = Say(text, TurnAction.HANGUP, why)
    return replace(state, ended=True, last_say=say), [say, Hangup(reason)]


def _why(parse: ParseResult, ctx: PolicyContext, topic: str | None = None,
         entry: str | None = None) -> Why:
    """Which entry, its revision, the score and the runner-up: every answer says why."""
    matched = topic is not None and topic == parse.intent.name  # answered from this sentence
    match = next((m for m in parse.knowledge if m.topic == topic), None) if matched else None
    rival = next((m for m in parse.knowledge if m.topic != topic), None) if matched else None
    return Why(parse.intent.name, round(parse.intent.confidence, 4),
               f"{topic}/{entry}" if topic and entry else topic,
               ctx.kb.revision if topic else None,
               match.score if match else None,
               rival.topic if rival else None,
               round(rival.confidence, 4) if rival else None)


def _transfer(state: CallState, reason: TransferReason, now: datetime, ctx: PolicyContext,
              why: Why = _NO_WHY) -> Decision:
    """Hand over to the switchboard, or say when people are back if it is closed."""
    switchboard = ctx.kb.switchboard_service
    if is_open(switchboard, now):
        text = {TransferReason.FAILURE: prompts.TRANSFER_AFTER_FAILURE,
                TransferReason.TIME_LIMIT: prompts.TIME_LIMIT}.get(reason, prompts.TRANSFER)
        say = Say(text, TurnAction.TRANSFER, why)
        return replace(state, ended=True, last_say=say), [say, Transfer(reason)]
    reopening = next_opening(switchboard, now)
    closed = (prompts.CLOSED_NOW.format(reopening=format_moment(reopening, now),
                                        phone=switchboard.phone)
              if reopening else prompts.CLOSED_NO_REOPENING.format(phone=switchboard.phone))
    note = offer_message(ctx.kb, state.topic, ctx.errands) if reason in _CALLER_CHOICES else None
    if note is not None:  # nobody there: a message for the department instead
        return _say(replace(state, errand=note), f"{closed} {message.OFFER}", TurnAction.ANSWER,
                    why, Expecting.QUESTION)
    if reason in _CALLER_CHOICES:
        return _say(state, f"{closed} {prompts.ANYTHING_ELSE}", TurnAction.ANSWER, why,
                    Expecting.ANYTHING_ELSE)
    return _end(state, f"{closed} {prompts.goodbye(now.hour)}", f"closed_{reason}", why)


def _on_silence(state: CallState, ctx: PolicyContext) -> Decision:
    state = replace(state, silences=state.silences + 1)
    if state.silences >= ctx.params.max_silences:
        return _end(state, prompts.SILENCE_GOODBYE, "silence")
    return _say(state, prompts.SILENCE_REPROMPT, TurnAction.REPROMPT, Why())


def _repeat(state: CallState) -> Decision:
    last = state.last_say
    if last is None:
        return _say(state, prompts.NOTHING_TO_REPEAT, TurnAction.REPROMPT, Why())
    text = last.text if last.text.startswith(prompts.REPEAT_PREFIX) else (
        prompts.REPEAT_PREFIX + last.text)
    return _say(state, text, last.action, last.why)


def _answer(state: CallState, topic: str, parse: ParseResult, now: datetime,
            ctx: PolicyContext) -> Decision:
    earlier = state.question  # after a clarification, the question said where and when
    service = parse.entity_value("service") or (earlier.entity_value("service") if earlier else None)
    day = parse.entity_value("day") or (earlier.entity_value("day") if earlier else None)
    text = f"{parse.text} {earlier.text}" if earlier else parse.text
    entry = parse.entry if topic == parse.intent.name else None
    if entry is None and earlier is not None and earlier.entry and earlier.knowledge \
            and earlier.knowledge[0].topic == topic:
        entry = earlier.entry  # "vous parlez de X ?" "oui": the point first asked
    answer = answer_topic(ctx.kb, topic, now, service, day, text, entry)
    offer = LINK_OFFER if ctx.errands.sms and ctx.kb.topics[topic].link else ""
    spoken, expecting = answer_speech(answer, offer)
    state = replace(state, topic=topic, entry=answer.entry, details_left=answer.detail_pieces,
                    candidates=(), question=None, misunderstandings=0,
                    answers_given=state.answers_given + 1)
    return _say(state, spoken, TurnAction.ANSWER, _why(parse, ctx, topic, answer.entry),
                expecting)


def answer_speech(answer: Answer, offer: str = "") -> tuple[str, Expecting]:
    """What the bot says to give ``answer`` and the reply it then expects (the speech layer
    pre-renders the same text: ``callbot/conversation/spoken_answers.py``); ``offer`` (the
    link by SMS) comes before the closing question."""
    text = f"{answer.text} {offer}" if offer else answer.text
    if answer.details:
        return f"{text} {prompts.OFFER_DETAILS}", Expecting.DETAILS
    return f"{text} {prompts.ANYTHING_ELSE}", Expecting.ANYTHING_ELSE


def details_speech(piece: str, more: bool = False) -> str:
    """What the bot says for one piece of the details: the rest is offered, not imposed."""
    return f"{piece} {prompts.OFFER_MORE if more else prompts.ANYTHING_ELSE}"


def _details(state: CallState, why: Why) -> Decision:
    """The next piece of the last answer's details (two sentences at most)."""
    piece, *rest = state.details_left or ("",)
    expecting = Expecting.DETAILS if rest else Expecting.ANYTHING_ELSE
    return _say(replace(state, details_left=tuple(rest)), details_speech(piece, bool(rest)),
                TurnAction.ANSWER, why, expecting)


def _confidence(event: CallerSaid, ctx: PolicyContext) -> float:
    """NLU confidence, capped below the answering threshold when the transcript is shaky."""
    confidence = event.parse.intent.confidence
    if event.asr_confidence is not None and event.asr_confidence < ASR_MIN_CONFIDENCE:
        confidence = min(confidence, ctx.params.answer_threshold * 0.99)
    return confidence


def answers_directly(parse: ParseResult, confidence: float, params: PolicyParams) -> bool:
    """Whether a topic is answered without asking: the rule ``callbot nlu eval`` counts too."""
    return is_topic(parse.intent.name) and confidence >= params.answer_threshold


def answer_rule(params: PolicyParams) -> Callable[[ParseResult], bool]:
    """``answers_directly`` for a line without speech confidence: what ``nlu eval`` counts."""
    return lambda parse: answers_directly(parse, parse.intent.confidence, params)


def _on_expected_reply(state: CallState, intent: str, parse: ParseResult, now: datetime,
                       ctx: PolicyContext) -> Decision | None:
    """A yes/no to the bot's last question, or ``None`` when it is something else."""
    why = _why(parse, ctx, state.topic, state.entry)
    yes, no = _means(parse, "affirm", ctx), _means(parse, "deny", ctx)
    if state.expecting is Expecting.ANYTHING_ELSE and intent == "goodbye":
        no = True  # "non merci au revoir" after "autre chose ?", however unsure the NLU is
    match state.expecting:
        case Expecting.DETAILS if yes and state.topic and state.details_left:
            return _details(state, why)
        case Expecting.DETAILS if no:
            return _say(state, prompts.ANYTHING_ELSE, TurnAction.REPROMPT, why,
                        Expecting.ANYTHING_ELSE)
        case Expecting.ANYTHING_ELSE if yes:
            return _say(state, prompts.LISTENING, TurnAction.REPROMPT, why, Expecting.QUESTION)
        case Expecting.ANYTHING_ELSE if no:
            return _end(state, prompts.goodbye(now.hour), "caller_done", why)
        case Expecting.TRANSFER_OFFER if yes:
            return _transfer(state, TransferReason.OUT_OF_SCOPE, now, ctx, why)
        case Expecting.TRANSFER_OFFER if no:
            return _say(state, prompts.ANYTHING_ELSE, TurnAction.REPROMPT, why,
                        Expecting.ANYTHING_ELSE)
        case Expecting.CLARIFICATION if yes and len(state.candidates) == 1:
            return _answer(state, state.candidates[0], parse, now, ctx)
    return None


def _means(parse: ParseResult, dialogue_intent: str, ctx: PolicyContext) -> bool:
    """Yes (or no) even when worded with thanks ("oui je veux bien merci") or read as a topic
    too unsure to answer ("oui s'il vous plaît dites-moi tout")."""
    if parse.intent.name == dialogue_intent:
        return True
    unsure_topic = (is_topic(parse.intent.name)
                    and parse.intent.confidence < ctx.params.answer_threshold)
    if parse.intent.name not in _POLITE_INTENTS and not unsure_topic:
        return False
    score = next((s.confidence for s in parse.intent_ranking if s.name == dialogue_intent), 0.0)
    return score >= YES_NO_MIN_CONFIDENCE


def _clarification_choice(state: CallState, parse: ParseResult) -> str | None:
    """The candidate topic the caller picked after 'vous parlez de X ou de Y ?'."""
    if state.expecting != Expecting.CLARIFICATION:
        return None
    scores = {s.name: s.confidence for s in parse.intent_ranking}
    best = max(state.candidates, key=lambda c: scores.get(c, 0.0), default=None)
    if best and (parse.intent.name == best or scores.get(best, 0.0) >= CANDIDATE_MIN_CONFIDENCE
                 and parse.intent.name in (*state.candidates, NLU_FALLBACK)):
        return best
    return None


def _on_utterance(state: CallState, event: CallerSaid, now: datetime,
                  ctx: PolicyContext) -> Decision:
    parse = event.parse
    intent, confidence = parse.intent.name, _confidence(event, ctx)
    why = _why(parse, ctx)
    link = _link_asked(state, parse, now, ctx)  # before a yes to the details: "oui, par SMS"
    if link is not None:
        return link
    reply = _on_expected_reply(state, intent, parse, now, ctx)
    if reply is not None:
        return reply
    chosen = _clarification_choice(state, parse)
    if chosen:
        return _answer(state, chosen, parse, now, ctx)
    topic_now = intent if answers_directly(parse, confidence, ctx.params) else None
    near = tuple(m.topic for m in parse.knowledge[:ERRAND_NEAR_TOPICS])  # "annuler mon rdv"
    errand = open_errand(parse.text, (topic_now, state.topic, *near), ctx.kb, ctx.errands, now)
    if errand is not None:
        return _errand(state, errand, now, ctx, _why(parse, ctx, topic_now or state.topic))
    if answers_directly(parse, confidence, ctx.params) and intent in ctx.kb.topics:
        return _answer(state, intent, parse, now, ctx)
    if intent in _CAREFUL_INTENTS and confidence < ctx.params.answer_threshold:
        return _misunderstood(state, parse, now, ctx)
    match intent:
        case "request_human":
            return _transfer(state, TransferReason.CALLER_ASKED, now, ctx, why)
        case "goodbye":
            return _end(state, prompts.goodbye(now.hour), "caller_goodbye", why)
        case "thanks":
            return _say(state, f"{prompts.THANKS_BACK} {prompts.ANYTHING_ELSE}",
                        TurnAction.ANSWER, why, Expecting.ANYTHING_ELSE)
        case "greet":
            return _say(state, prompts.GREET_BACK, TurnAction.REPROMPT, why, Expecting.QUESTION)
        case "repeat":
            return _repeat(state)
        case "affirm" | "deny":
            return _say(state, prompts.LISTENING, TurnAction.REPROMPT, why, Expecting.QUESTION)
        case _ if intent == OUT_OF_SCOPE:
            if is_open(ctx.kb.switchboard_service, now):
                return _say(state, prompts.OUT_OF_SCOPE, TurnAction.ANSWER, why,
                            Expecting.TRANSFER_OFFER)
            return _say(state, f"{prompts.OUT_OF_SCOPE_ONLY} {prompts.ANYTHING_ELSE}",
                        TurnAction.ANSWER, why, Expecting.ANYTHING_ELSE)
    return _misunderstood(state, parse, now, ctx)


def _same_answer(topics: tuple[str, ...], parse: ParseResult, now: datetime,
                 ctx: PolicyContext) -> bool:
    """Whether two topics give the caller the very same answer (e.g. hours of a named place)."""
    if not all(t in ctx.kb.topics for t in topics):
        return False
    service, day = parse.entity_value("service"), parse.entity_value("day")
    texts = {answer_topic(ctx.kb, t, now, service, day, parse.text).text for t in topics}
    return len(texts) == 1


def _misunderstood(state: CallState, parse: ParseResult, now: datetime,
                   ctx: PolicyContext) -> Decision:
    """One clarification naming the likeliest topics, then a person."""
    state = replace(state, misunderstandings=state.misunderstandings + 1)
    why = _why(parse, ctx)
    if state.misunderstandings >= ctx.params.max_misunderstandings:
        return _transfer(state, TransferReason.NOT_UNDERSTOOD, now, ctx, why)
    candidates = tuple(s.name for s in parse.intent_ranking
                       if is_topic(s.name) and s.confidence >= CANDIDATE_MIN_CONFIDENCE)[:2]
    if len(candidates) == 2 and _same_answer(candidates, parse, now, ctx):
        return _answer(state, candidates[0], parse, now, ctx)  # asking would change nothing
    labels = [ctx.kb.topics[c].label for c in candidates if c in ctx.kb.topics]
    if len(labels) == 2:
        text = prompts.CLARIFY_TWO.format(first=with_preposition("de", labels[0]),
                                          second=with_preposition("de", labels[1]))
    elif len(labels) == 1:
        text = prompts.CLARIFY_ONE.format(first=with_preposition("de", labels[0]))
    else:
        return _say(replace(state, candidates=()), prompts.NOT_UNDERSTOOD, TurnAction.CLARIFY,
                    why, Expecting.QUESTION)
    return _say(replace(state, candidates=candidates, question=parse), text, TurnAction.CLARIFY,
                why, Expecting.CLARIFICATION)
