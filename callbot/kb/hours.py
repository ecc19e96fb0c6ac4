"""Opening hours that know the clock: weekdays, French public holidays, exceptional closures.

Everything takes ``now`` as an argument: no hidden clock, so scenarios can fix the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from callbot.kb.model import WEEKDAYS_FR, Service, TimeRange

_RANGE = re.compile(r"^\s*(\d{1,2})\s*h\s*(\d{2})?\s*-\s*(\d{1,2})\s*h\s*(\d{2})?\s*$")
_CLOSED_WORDS = frozenset({"fermé", "ferme", "closed", ""})
_SEARCH_DAYS = 60
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")


def parse_hours(text: str) -> tuple[TimeRange, ...]:
    """``"8h30-12h, 13h30-17h30"`` → ranges; ``"fermé"`` → none. Raises ``ValueError``."""
    if str(text).strip().lower() in _CLOSED_WORDS:
        return ()
    ranges = []
    for part in str(text).split(","):
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"cannot read opening hours '{part.strip()}' (expected like 8h30-12h)")
        h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
        if not (0 <= h1 <= 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
            raise ValueError(f"impossible time in '{part.strip()}'")
        start, end = time(h1 % 24, m1), time(h2 % 24, m2) if h2 < 24 else time(23, 59)
        if end <= start:
            raise ValueError(f"'{part.strip()}' closes before it opens")
        if ranges and start < ranges[-1].end:
            raise ValueError(f"'{part.strip()}' overlaps the previous range")
        ranges.append(TimeRange(start, end))
    return tuple(ranges)


@lru_cache(maxsize=16)
def _french_holidays(year: int) -> dict[date, str]:
    return dict(holidays.France(years=year, language="fr"))


def holiday_name(day: date) -> str | None:
    return _french_holidays(day.year).get(day)


@dataclass(frozen=True)
class DayHours:
    day: date
    ranges: tuple[TimeRange, ...]
    closed_reason: str | None = None  # holiday or exceptional closure, if that is why


def hours_on(service: Service, day: date) -> DayHours:
    holiday = holiday_name(day)
    if holiday:
        return DayHours(day, (), f"jour férié, {holiday}")
    for closure in service.closures:
        if closure.covers(day):
            return DayHours(day, (), closure.reason)
    return DayHours(day, service.hours[day.weekday()])


def is_open(service: Service, now: datetime) -> bool:
    return any(r.start <= now.time() < r.end for r in hours_on(service, now.date()).ranges)


def closing_time(service: Service, now: datetime) -> time | None:
    return next((r.end for r in hours_on(service, now.date()).ranges
                 if r.start <= now.time() < r.end), None)


def next_opening(service: Service, now: datetime) -> datetime | None:
    """The next moment the service opens after ``now`` (within two months)."""
    for offset in range(_SEARCH_DAYS):
        day = now.date() + timedelta(days=offset)
        for r in hours_on(service, day).ranges:
            moment = datetime.combine(day, r.start)
            if moment > now:
                return moment
    return None


def next_weekday(today: date, weekday: int) -> date:
    """This weekday, today included, or the next one."""
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def format_time(value: time) -> str:
    return f"{value.hour}h{value.minute:02d}" if value.minute else f"{value.hour}h"


def format_ranges(ranges: tuple[TimeRange, ...]) -> str:
    parts = [f"de {format_time(r.start)} à {format_time(r.end)}" for r in ranges]
    return " et ".join(parts)


def format_day(day: date, today: date) -> str:
    """'aujourd'hui', 'demain', or 'samedi 5 décembre'."""
    if day == today:
        return "aujourd'hui"
    if day == today + timedelta(days=1):
        return "demain"
    number = "1er" if day.day == 1 else str(day.day)
    return f"{WEEKDAYS_FR[day.weekday()]} {number} {MONTHS_FR[day.month - 1]}"


def format_moment(moment: datetime, now: datetime) -> str:
    return f"{format_day(moment.date(), now.date())} à {format_time(moment.time())}"
