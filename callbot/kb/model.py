"""The knowledge base as frozen values, built only by ``callbot.kb.loader``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

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
class Service:
    id: str
    name: str
    address: str
    phone: str
    hours: tuple[tuple[TimeRange, ...], ...]  # index 0 = Monday
    closures: tuple[Closure, ...] = ()
    access: str = ""


@dataclass(frozen=True)
class Topic:
    id: str
    service: str
    answer: str
    details: str
    label: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class KnowledgeBase:
    town: str
    switchboard: str  # id of the service that answers the switchboard
    services: dict[str, Service]
    topics: dict[str, Topic]
    waste: dict[str, tuple[int, ...]] = field(default_factory=dict)  # kind → weekdays
    revision: str = ""  # hash of the source, carried in every answer's "why"

    @property
    def switchboard_service(self) -> Service:
        return self.services[self.switchboard]
