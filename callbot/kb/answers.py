"""Compose the answer to a topic at a given moment, using the caller's entities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from callbot.kb.hours import is_open, next_weekday
from callbot.kb.model import WEEKDAYS_FR, KnowledgeBase, Topic
from callbot.kb.slots import fill_slots, hours_sentence, open_now_sentence

#: Topics whose answer is the hours of a service when the caller names a day.
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


def answer_topic(kb: KnowledgeBase, topic_id: str, now: datetime,
                 service_id: str | None = None, day: str | None = None) -> Answer:
    """The answer to speak; hours topics honour the service and day the caller named."""
    topic = kb.topics[topic_id]
    details = fill_slots(topic.details, kb, now)
    if topic_id in HOURS_TOPICS and (day or service_id or topic_id == "opening_hours"):
        service = kb.services.get(service_id or "") or kb.services.get(topic.service)
        service = service or kb.switchboard_service
        when = resolve_day(day, now)
        if when is None:
            text = open_now_sentence(service, now)
            if day != "maintenant" and is_open(service, now):
                text += " " + hours_sentence(service, now.date(), now)
        else:
            text = hours_sentence(service, when, now)
        return Answer(topic, text, details)
    return Answer(topic, fill_slots(topic.answer, kb, now), details)
