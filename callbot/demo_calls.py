"""A week of a town hall's calls for ``callbot demo``, played through the real policy.

Each call is a script (what the caller says and what it means) played through the same
``Conversation`` as a phone call, with the town's knowledge base and the policy's settings;
a stand-in NLU knows what each scripted line means, so the bot's words, actions, transfers
and outcomes are the policy's own. What the callers say comes from the data: the topics'
questions and the NLU's examples. Shares follow a switchboard's week: ~450 calls a weekday,
fewer on Saturday morning, none on Sunday; peaks at 9–11 h and 14–16 h; civil status,
identity cards and opening hours asked most; about half the calls settled by the bot.

``fill`` writes them the call log's own way: each event becomes a record
(``callbot.store.records``: pseudonyms, redaction) written by ``apply_records``, the writer's
function, so the schema, the days and the rollups are the real ones.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from callbot.brain import Brain
from callbot.config import Settings, StoreSettings
from callbot.conversation.call_events import (
    CallClosed,
    CallEvent,
    CallOutcome,
    LineEventKind,
    TurnTaken,
)
from callbot.conversation.model import CallerSaid, DtmfPressed, SilenceTimeout, SystemFailure
from callbot.conversation.policy import PolicyParams
from callbot.conversation.session import Conversation
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase
from callbot.nlu.intents import NLU_FALLBACK, OUT_OF_SCOPE
from callbot.nlu.result import IntentScore, ParseResult
from callbot.nlu.training_data import load_training_data
from callbot.store import rollups
from callbot.store.accounts import add_user
from callbot.store.database import engine_from_settings, migrate
from callbot.store.records import to_record
from callbot.store.schema import calls
from callbot.store.writes import apply_records

#: Calls of a whole day, Monday to Sunday (index 0 = Monday): Mondays are the busiest.
DAY_CALLS = (500, 450, 430, 450, 420, 110, 0)
#: Weights of the hour a call starts, weekdays and Saturday (the bot answers at any hour).
WEEKDAY_HOURS = {7: 1, 8: 6, 9: 14, 10: 15, 11: 9, 12: 3, 13: 4, 14: 12, 15: 12, 16: 8, 17: 4,
                 18: 2, 19: 1, 20: 1}
SATURDAY_HOURS = {8: 3, 9: 10, 10: 12, 11: 8, 12: 2, 13: 1, 14: 2, 15: 1, 16: 1}
#: The topics a switchboard hears most (weights); every other topic of the KB shares the rest.
FREQUENT_TOPICS = {
    "civil_status_certificate": 12, "id_card_passport": 12, "opening_hours": 11,
    "waste_collection": 5, "birth_declaration": 4, "school_canteen": 4, "address_access": 4,
    "bulky_waste": 4, "recycling_centre": 4, "death_declaration": 3, "marriage": 3,
    "electoral_register": 3, "invoice_payment": 3, "school_enrolment": 3, "lost_stolen_id": 3,
    "document_collection": 3, "proxy_vote": 2, "family_record_book": 2, "cemetery": 2,
    "building_permit": 2, "social_assistance": 2, "early_childhood": 2,
}
OTHER_TOPIC_WEIGHT = 0.15
#: Sentences the bot does not understand: recognition slips and what the town has no topic for.
UNCLEAR = (
    "euh oui bonjour c'est pour le truc de la semaine dernière",
    "je rappelle pour le dossier de ma mère",
    "c'est au sujet du courrier que j'ai reçu",
    "la dame m'a dit de rappeler aujourd'hui",
    "je voudrais louer un vélo électrique pour le week-end",
    "est-ce que je peux venir avec mon chien à la fête",
    "mon voisin a coupé la haie qui est à moi",
    "le lampadaire devant chez moi clignote toute la nuit",
    "c'est pour un problème de ramassage de la tondeuse",
    "vous faites les inscriptions pour le loto des aînés",
)
#: What a caller says for a dialogue act when the data has no example of it.
DIALOGUE_DEFAULTS = {"goodbye": "au revoir", "affirm": "oui", "deny": "non merci",
                     "request_human": "je voudrais parler à quelqu'un",
                     OUT_OF_SCOPE: "quel temps il va faire demain"}
CHANNEL = "sip"
CHARS_PER_SEC = 13.0  # the bot's speech rate, for the time a call takes
REFUSED_TRANSFERS = 0.03  # of transfers, refused by the telephony (busy switchboard)
FAILURE_DETAIL = "no result within 5.0 s"  # a recogniser that hung (callbot/hangs.py)
DEMO_USER = "demo"
NODE = "demo"  # the "process" that took the demo's calls
PSEUDONYM_KEY = b"callbot-demo"  # the callers' numbers are made up: nothing to keep secret
BATCH_RECORDS = 5_000


#: What a caller does, as the policy hears it: words with what they mean, a key, a silence,
#: or a part of the line failing.
Step = CallerSaid | DtmfPressed | SilenceTimeout | SystemFailure


@dataclass(frozen=True)
class CallPlan:
    call_id: str
    started_at: datetime
    caller: str | None
    steps: tuple[Step, ...]
    end: CallOutcome = CallOutcome.ABANDONED  # if the script ends with the call still on
    refused: bool = False  # a transfer, if any, is refused by the telephony


@dataclass
class Callers:
    """What callers say, by intent, from the data: the topics' questions, the NLU examples."""

    kb: KnowledgeBase
    examples: Mapping[str, list[str]]
    rng: random.Random
    topics: list[str] = field(init=False)
    weights: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.topics = list(self.kb.topics)
        self.weights = [FREQUENT_TOPICS.get(t, OTHER_TOPIC_WEIGHT) for t in self.topics]

    def texts(self, intent: str) -> list[str]:
        topic = self.kb.topics.get(intent)
        found = [*(topic.questions if topic else ()), *self.examples.get(intent, ())]
        if found:
            return found
        return [f"c'est pour {topic.label}"] if topic else [DIALOGUE_DEFAULTS[intent]]

    def topic(self) -> str:
        return self.rng.choices(self.topics, self.weights)[0]

    def say(self, intent: str, low: float = 0.72, high: float = 0.99) -> CallerSaid:
        meaning = IntentScore(intent, self.rng.uniform(low, high))
        return CallerSaid(ParseResult(self.rng.choice(self.texts(intent)), meaning),
                          asr_confidence=self.rng.uniform(0.6, 0.98))

    def ask(self) -> CallerSaid:
        return self.say(self.topic())

    def clarified(self) -> tuple[CallerSaid, CallerSaid]:
        """A topic asked vaguely (the bot names the two likeliest), then said plainly."""
        first, second = self.topic(), self.topic()
        vague = self.say(first, 0.35, 0.55)
        confidence = vague.parse.intent.confidence
        ranking = (IntentScore(first, confidence), IntentScore(second, confidence * 0.6))
        return replace(vague, parse=replace(vague.parse, intent_ranking=ranking)), self.say(first)

    def unclear(self) -> CallerSaid:
        meaning = IntentScore(NLU_FALLBACK, self.rng.uniform(0.1, 0.29))
        return CallerSaid(ParseResult(self.rng.choice(UNCLEAR), meaning), self.rng.uniform(0.5, 0.9))


def _scripts(c: Callers) -> dict[str, tuple[float, Callable[[], tuple[Step, ...]]]]:
    """Kinds of calls: weight, then the caller's steps (~50 % settled, ~35 % to a person)."""
    bye = lambda: c.say("goodbye")  # noqa: E731
    return {
        "answered": (31, lambda: (c.ask(), *([c.say("affirm")] if c.rng.random() < 0.4
                                             else [c.say("deny")]), bye())),
        "two_questions": (8, lambda: (c.ask(), c.ask(), c.say("deny"), bye())),
        "all_the_details": (6, lambda: (c.ask(), c.say("affirm"), c.say("affirm"), c.ask(),
                                        c.say("affirm"), c.say("deny"), bye())),
        "clarified": (5, lambda: (*c.clarified(), c.say("deny"), bye())),
        "person_after_answer": (13, lambda: (c.ask(), c.say("request_human"), bye())),
        "person_at_once": (12, lambda: (c.say("request_human"), bye())),
        "key_zero": (4, lambda: (DtmfPressed("0"), bye())),
        "not_understood": (7, lambda: (c.unclear(), c.unclear(), bye())),
        "out_of_scope": (3, lambda: (c.say(OUT_OF_SCOPE), c.say("affirm"), bye())),
        "hung_up_after_answer": (7, lambda: (c.ask(),)),
        "silent": (3, lambda: (SilenceTimeout(), SilenceTimeout())),
        "hung_up_at_greeting": (2, lambda: ()),
        "failure": (1, lambda: (c.ask(), SystemFailure("stt"))),
        "line_lost": (1, lambda: (c.ask(),)),  # the line drops: closed as an error
    }


#: How a kind of call ends when its script runs out with the call still on.
ENDS = {"line_lost": CallOutcome.ERROR}


def _start(day: date, hours: Mapping[int, float], rng: random.Random) -> datetime:
    hour = rng.choices(list(hours), list(hours.values()))[0]
    return datetime.combine(day, datetime.min.time()) + timedelta(
        hours=hour, seconds=rng.uniform(0, 3600))


def plan_week(callers: Callers, last_day: date, days: int = 7,
              scale: float = 1.0) -> Iterator[CallPlan]:
    """Every call of the ``days`` up to ``last_day``, in the order they started."""
    rng = callers.rng
    scripts = _scripts(callers)
    names, weights = list(scripts), [w for w, _ in scripts.values()]
    numbers = [f"06 {rng.randrange(10, 100)} {rng.randrange(10, 100)} {rng.randrange(10, 100)} "
               f"{rng.randrange(10, 100)}" for _ in range(300)]  # callers who call again
    for offset in range(days - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        count = round(DAY_CALLS[day.weekday()] * scale * rng.uniform(0.93, 1.07))
        hours = SATURDAY_HOURS if day.weekday() == 5 else WEEKDAY_HOURS
        plans = []
        for _ in range(count):
            kind = rng.choices(names, weights)[0]
            draw = rng.random()
            caller = None if draw < 0.05 else rng.choice(numbers) if draw < 0.2 else (
                f"0{rng.choice('1234567')} {rng.randrange(10**7, 10**8)}")
            plans.append(CallPlan(uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                                  _start(day, hours, rng), caller, scripts[kind][1](),
                                  ENDS.get(kind, CallOutcome.ABANDONED),
                                  rng.random() < REFUSED_TRANSFERS))
        yield from sorted(plans, key=lambda p: p.started_at)


@dataclass
class _Recorder:
    """The call's events, each turn with the latencies a phone call would have had (the
    stand-in NLU's measured microseconds are no phone call's)."""

    events: list[CallEvent] = field(default_factory=list)
    latencies: dict[str, float] = field(default_factory=dict)

    def __call__(self, event: CallEvent) -> None:
        if isinstance(event, TurnTaken) and event.latencies_ms:
            event = replace(event, latencies_ms=self.latencies)
        self.events.append(event)


def play(plan: CallPlan, kb: KnowledgeBase, params: PolicyParams,
         rng: random.Random) -> list[CallEvent]:
    """The call's events as the conversation emits them for a phone call."""
    now = [plan.started_at]
    meanings: list[ParseResult] = []
    recorder = _Recorder()
    conversation = Conversation(lambda text: replace(meanings.pop(), text=text), lambda: kb,
                                lambda: now[0], params, call_id=plan.call_id, channel=CHANNEL,
                                caller_id=plan.caller, sinks=[recorder])
    turn = conversation.start()
    for step in plan.steps:
        if conversation.ended:
            break
        now[0] += timedelta(seconds=len(turn.text) / CHARS_PER_SEC + rng.lognormvariate(1.6, 0.5))
        recorder.latencies = {"stt_after_speech": round(rng.lognormvariate(5.8, 0.35), 1),
                              "nlu": round(rng.uniform(2.0, 12.0), 2)}
        if isinstance(step, CallerSaid):
            meanings.append(step.parse)
            turn = conversation.hear(step.parse.text, step.asr_confidence)
        elif isinstance(step, DtmfPressed):
            conversation.record(LineEventKind.DTMF, step.digit)
            turn = conversation.dtmf(step.digit)
        elif isinstance(step, SilenceTimeout):
            conversation.record(LineEventKind.SILENCE)
            turn = conversation.silence()
        else:
            turn = conversation.failure(step.component, FAILURE_DETAIL)
    now[0] += timedelta(seconds=len(turn.text) / CHARS_PER_SEC + 0.5)
    conversation.close(plan.end, detail="caller hung up")  # nothing if the bot ended it
    if plan.refused and conversation.outcome is CallOutcome.TRANSFERRED:
        now[0] += timedelta(seconds=20)
        conversation.transfer_failed("REFER refused: 486 Busy Here")
    return recorder.events


@dataclass(frozen=True)
class DemoReport:
    database_url: str
    calls: int
    turns: int
    first_day: date
    last_day: date
    outcomes: dict[str, int]
    password: str | None = None  # of the demo account, when this run made one


def caller_examples(settings: Settings) -> dict[str, list[str]]:
    """The NLU's examples by intent: what callers say, for the intents without questions."""
    examples: dict[str, list[str]] = {}
    for example in load_training_data(settings.data_dir).examples:
        examples.setdefault(example.intent, []).append(example.text)
    return examples


async def fill(store: StoreSettings, settings: Settings, now: datetime, seed: int,
               days: int = 7, scale: float = 1.0, password: str | None = None) -> DemoReport:
    """Write ``days`` of calls up to ``now`` (none after it: today stops now) into an empty
    call log; ``password``: an admin account ``demo`` is added with it."""
    outcomes: Counter[str] = Counter()
    turns, records = 0, []
    engine = engine_from_settings(store)
    try:
        await migrate(engine, store.schema_name)
        async with engine.connect() as connection:
            found = (await connection.execute(select(func.count()).select_from(calls))).scalar()
        if found:
            raise ValueError(f"{store.database_url} already holds {found} calls: the demo "
                             "writes into an empty call log only")
        kb = load_knowledge_base(settings.knowledge_base_path)
        rng = random.Random(seed)
        callers = Callers(kb, caller_examples(settings), rng)
        params = Brain.policy_params_of(settings)
        for plan in plan_week(callers, now.date(), days, scale):
            events = [e for e in play(plan, kb, params, rng) if e.at <= now]
            if not events:
                continue
            closes = [e.outcome for e in events if isinstance(e, CallClosed)]
            outcomes[str(closes[-1]) if closes else "in_progress"] += 1
            turns += sum(isinstance(e, TurnTaken) for e in events)
            records += [to_record(e, seq, PSEUDONYM_KEY, NODE) for seq, e in enumerate(events, 1)]
            if len(records) >= BATCH_RECORDS:
                async with engine.begin() as connection:
                    await apply_records(connection, records)
                records = []
        async with engine.begin() as connection:
            await apply_records(connection, records)
        await rollups.prepare(engine, now.date(), days)  # as the web app does at start
        if password:
            await add_user(engine, DEMO_USER, password, "admin")
    finally:
        await engine.dispose()
    return DemoReport(store.database_url, sum(outcomes.values()), turns,
                      now.date() - timedelta(days=days - 1), now.date(), dict(outcomes),
                      password)
