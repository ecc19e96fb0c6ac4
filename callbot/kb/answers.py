"""Compose the answer to a topic at a given moment, using what the caller named."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from callbot import faults
from callbot.kb.dates import find_date
from callbot.kb.hours import hours_on, is_open, next_weekday
from callbot.kb.model import WEEKDAYS_FR, KnowledgeBase, Service, Topic
from callbot.kb.slots import fill_slots, hours_sentence, open_now_sentence

#: Topics answered with a service's hours when the caller names a day.
HOURS_TOPICS = frozenset({"opening_hours", "recycling_centre", "cemetery"})


@dataclass(frozen=True)
class Answer:
    topic: Topic
    text: str
    details: str


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
                 day: str | None = None, text: str = "") -> Answer:
    """The answer to speak; hours and address honour the service and day the caller named."""
    faults.check("kb")
    return compose_answer(kb, topic_id, now, service_id, day, text)


def compose_answer(kb: KnowledgeBase, topic_id: str, now: datetime,
                   service_id: str | None = None, day: str | None = None,
                   text: str = "") -> Answer:
    """``answer_topic`` outside a call (pre-rendering): not a use ``CALLBOT_FAULTS`` counts."""
    topic = kb.topics[topic_id]
    details = fill_slots(topic.details, kb, now)
    named = kb.services.get(service_id or "")
    when = find_date(text, now.date()) or resolve_day(day, now)
    if topic_id == "opening_hours" or (topic_id in HOURS_TOPICS and (day or when)):
        service = named or kb.services.get(topic.service) or kb.switchboard_service
        if topic_id == "opening_hours" and named is None:
            service = kb.switchboard_service
        return Answer(topic, _hours_answer(service, when, now), details)
    if topic_id == "address_access" and named is not None and named.id != kb.switchboard:
        return Answer(topic, _address_answer(named), details)
    return Answer(topic, fill_slots(topic.answer, kb, now), details)
