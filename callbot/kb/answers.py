"""Compose the answer to a topic at a given moment, using what the caller named."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from callbot import faults
from callbot.kb.dates import find_date
from callbot.kb.hours import hours_on, is_open, next_weekday
from callbot.kb.model import WEEKDAYS_FR, KnowledgeBase, Service, Topic
from callbot.kb.slots import fill_slots, hours_sentence, open_now_sentence

#: Topics answered with a service's hours when the caller names a day.
HOURS_TOPICS = frozenset({"opening_hours", "recycling_centre", "cemetery"})


#: Details are read this many sentences at a time; the caller asks for the rest.
DETAIL_PIECE_SENTENCES = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý0-9«])")


@dataclass(frozen=True)
class Answer:
    topic: Topic
    text: str
    details: str
    entry: str | None = None  # the entry answered, when the caller asked a specific point

    @property
    def detail_pieces(self) -> tuple[str, ...]:
        return detail_pieces(self.details)


def detail_pieces(details: str) -> tuple[str, ...]:
    """Details in pieces of at most two sentences: 30 s of speech in one go loses a caller."""
    sentences = [s for s in _SENTENCE_END.split(details.strip()) if s]
    step = DETAIL_PIECE_SENTENCES
    return tuple(" ".join(sentences[i:i + step]) for i in range(0, len(sentences), step))


def resolve_day(day: str | None, now: datetime) -> date | None:
    """The date a ``day`` entity value points to, ``None`` for 'now' or no day."""
    if day is None or day == "maintenant":
        return None
    if day == "aujourdhui":
        return now.date()
    if day == "demain":
        return now.date() + timedelta(days=1)
    if day in WEEKDAYS_FR:
        return next_weekday(now.date(), WEEKDAYS_FR.index(day))
    return None


def _hours_answer(service: Service, when: date | None, now: datetime) -> str:
    if when is not None:
        return hours_sentence(service, when, now)
    text = open_now_sentence(service, now)
    if is_open(service, now) and len(hours_on(service, now.date()).ranges) > 1:
        text += " " + hours_sentence(service, now.date(), now)
    return text


def _address_answer(service: Service) -> str:
    sentence = f"{service.name[:1].upper()}{service.name[1:]} se trouve {service.address}."
    return f"{sentence} {service.access}".strip()


def answer_topic(kb: KnowledgeBase, topic_id: str, now: datetime, service_id: str | None = None,
                 day: str | None = None, text: str = "", entry_id: str | None = None) -> Answer:
    """The answer to speak; hours and address honour the service and day the caller named."""
    faults.check("kb")
    return compose_answer(kb, topic_id, now, service_id, day, text, entry_id)


def compose_answer(kb: KnowledgeBase, topic_id: str, now: datetime,
                   service_id: str | None = None, day: str | None = None,
                   text: str = "", entry_id: str | None = None) -> Answer:
    """``answer_topic`` outside a call (pre-rendering): not a use ``CALLBOT_FAULTS`` counts."""
    topic = kb.topics[topic_id]
    entry = topic.entry(entry_id)
    if entry is not None:  # the specific point asked: its own answer, its own details
        return Answer(topic, fill_slots(entry.answer, kb, now),
                      fill_slots(entry.details, kb, now), entry.id)
    details = fill_slots(topic.details, kb, now)
    named = kb.services.get(service_id or "")
    when = find_date(text, now.date()) or resolve_day(day, now)
    answers_hours = topic_id in HOURS_TOPICS or topic.day_hours
    if topic_id == "opening_hours" or (answers_hours and (day or when)):
        service = named or kb.services.get(topic.service) or kb.switchboard_service
        if topic_id == "opening_hours" and named is None:
            service = kb.switchboard_service
        return Answer(topic, _hours_answer(service, when, now), details)
    if topic_id == "address_access" and named is not None and named.id != kb.switchboard:
        return Answer(topic, _address_answer(named), details)
    return Answer(topic, fill_slots(topic.answer, kb, now), details)
