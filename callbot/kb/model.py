"""The knowledge base as frozen values, built only by ``callbot.kb.loader``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from callbot.problems import Problem

WEEKDAYS_FR: tuple[str, ...] = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
                                "dimanche")


@dataclass(frozen=True)
class TimeRange:
    start: time
    end: time


@dataclass(frozen=True)
class Closure:
    first: date
    last: date
    reason: str
    weekdays: frozenset[int] = frozenset()  # empty: every day of the period

    def covers(self, day: date) -> bool:
        in_period = self.first <= day <= self.last
        return in_period and (not self.weekdays or day.weekday() in self.weekdays)


@dataclass(frozen=True)
class Appointments:
    """A service that receives by appointment: the bot books slots in its calendar."""

    calendar: str  # the calendar's id in the settings (``errands.calendar.calendars``)
    slot_minutes: int = 20


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    address: str
    phone: str
    hours: tuple[tuple[TimeRange, ...], ...]  # index 0 = Monday
    closures: tuple[Closure, ...] = ()
    access: str = ""
    appointments: Appointments | None = None
    messages_to: str = ""  # e-mail of the department: messages left when it is closed


@dataclass(frozen=True)
class Entry:
    """One specific point of a topic (its cost, its delay, what to bring), matched on its own."""

    id: str
    questions: tuple[str, ...]
    answer: str
    details: str = ""


class TopicKind:
    ANSWER = "answer"  # the town hall's own business
    REDIRECT = "redirect"  # another administration handles it: say who and how to reach them


@dataclass(frozen=True)
class Topic:
    id: str
    service: str
    answer: str
    details: str
    label: str
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()  # ways a caller asks it: what the retriever matches
    entries: tuple[Entry, ...] = ()
    kind: str = TopicKind.ANSWER
    day_hours: bool = False  # a day named by the caller → the service's hours that day
    source: str = ""  # the file it was read from (the editor writes it back there)
    link: str = ""  # a web page the bot offers to send by SMS (the online procedure)

    @property
    def is_redirect(self) -> bool:
        return self.kind == TopicKind.REDIRECT

    def entry(self, entry_id: str | None) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


@dataclass(frozen=True)
class KnowledgeBase:
    town: str
    switchboard: str  # id of the service that answers the switchboard
    services: dict[str, Service]
    topics: dict[str, Topic]
    waste: dict[str, tuple[int, ...]] = field(default_factory=dict)  # kind → weekdays
    revision: str = ""  # hash of the source, carried in every answer's "why"
    warnings: tuple[Problem, ...] = ()  # kept, but worth an editor's look (hours in prose…)
    files: tuple[Path, ...] = ()  # every file it was read from (reload when one changes)

    @property
    def switchboard_service(self) -> Service:
        return self.services[self.switchboard]
