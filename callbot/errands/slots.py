"""Free appointment slots: the service's opening hours, less what is booked, fitted to a wish.

Pure: ``now`` and the busy intervals come in as arguments (the calendar connector fetches
them). A year of bookings is ~25 000 intervals, so they are sorted once into a ``BusyIndex``
(starts, and the latest end so far) and each candidate slot is checked with one bisection; a
raw list is first cut to the searched days, so one search costs a few milliseconds.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate

from callbot.errands.ports import Slot
from callbot.errands.when import HORIZON_DAYS, NOON, When
from callbot.kb.hours import hours_on
from callbot.kb.model import Service

#: "à 14 h 30" also takes a slot starting this close to it.
AT_TOLERANCE = timedelta(minutes=30)
Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class BusyIndex:
    """Booked intervals sorted by start, with the latest end among the first i of them: an
    overlap test is then one bisection, even when bookings overlap each other."""

    starts: tuple[datetime, ...]
    latest_ends: tuple[datetime, ...]

    @classmethod
    def of(cls, busy: Sequence[Interval], within: Interval | None = None) -> BusyIndex:
        """Index ``busy``, or only what meets ``within``: one pass, then a much smaller sort."""
        if within is not None:
            busy = [(s, e) for s, e in busy if s < within[1] and e > within[0]]
        ordered = sorted(busy)
        return cls(tuple(s for s, _ in ordered), tuple(accumulate((e for _, e in ordered), max)))

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether a booked interval meets [start, end)."""
        before_end = bisect_left(self.starts, end)  # intervals that start before the slot ends
        return before_end > 0 and self.latest_ends[before_end - 1] > start


def _fits(start: datetime, end: datetime, when: When) -> bool:
    """Whether a slot keeps to the caller's half-day, bounds and hour."""
    if when.part != "any" and (start.time() < NOON) != (when.part == "morning"):
        return False
    if when.not_before is not None and start.time() < when.not_before:
        return False
    if when.not_after is not None and end > datetime.combine(end.date(), when.not_after):
        return False
    if when.at is None:
        return True
    return abs(start - datetime.combine(start.date(), when.at)) <= AT_TOLERANCE


def _day_slots(service: Service, day: date, length: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """Every slot of the day's opening hours, from the opening of each range."""
    for hours in hours_on(service, day).ranges:
        start, closing = datetime.combine(day, hours.start), datetime.combine(day, hours.end)
        while start + length <= closing:
            yield start, start + length
            start += length


def _candidates(service: Service, length: timedelta, busy: BusyIndex, when: When, earliest: datetime,
                last_day: date, exclude: Collection[datetime]) -> Iterator[tuple[datetime, datetime]]:
    """Free slots that fit the wish, day after day; within a day, the closest to ``at`` first."""
    day = max(when.first_day, earliest.date())
    while day <= last_day:
        fitting = [(s, e) for s, e in _day_slots(service, day, length)
                   if s >= earliest and s not in exclude and _fits(s, e, when)
                   and not busy.overlaps(s, e)]
        if when.at is not None:
            at = datetime.combine(day, when.at)
            fitting.sort(key=lambda slot: (abs(slot[0] - at), slot[0]))
        yield from fitting
        day += timedelta(days=1)


def _half_day(start: datetime) -> tuple[date, bool]:
    return start.date(), start.time() < NOON


def free_slots(service: Service, slot_minutes: int, busy: Sequence[Interval] | BusyIndex, when: When,
               now: datetime, *, calendar: str, limit: int = 2,
               min_notice: timedelta = timedelta(hours=2), spread: bool = True,
               horizon_days: int = HORIZON_DAYS, exclude: Collection[Slot] = ()) -> list[Slot]:
    """Up to ``limit`` free slots of the service that fit ``when``, soonest first.

    Never in the past nor within ``min_notice``, never on a holiday or a closure, at most
    ``horizon_days`` ahead; ``exclude`` holds slots already refused. With ``spread``, the
    slots fall on different half-days when the wish allows it: a caller prefers a choice
    ("mardi à 10 h 30, ou jeudi à 14 h") to two slots twenty minutes apart.
    """
    earliest = now + min_notice
    last_day = min(when.last_day, now.date() + timedelta(days=horizon_days - 1))
    searched = (earliest, datetime.combine(last_day + timedelta(days=1), datetime.min.time()))
    index = busy if isinstance(busy, BusyIndex) else BusyIndex.of(busy, searched)
    refused = {slot.start for slot in exclude}
    length = timedelta(minutes=slot_minutes)
    found = _candidates(service, length, index, when, earliest, last_day, refused)
    picked: list[Interval] = []
    spare: list[Interval] = []  # the soonest ones on a half-day already picked
    for start, end in found:
        if not spread or _half_day(start) not in {_half_day(s) for s, _ in picked}:
            picked.append((start, end))
        elif len(spare) < limit:
            spare.append((start, end))
        if len(picked) >= limit:
            break
    chosen = sorted(picked + spare[:limit - len(picked)])
    return [Slot(calendar, start, end) for start, end in chosen]
