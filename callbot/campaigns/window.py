"""When a campaign call may start: the window's hours, its weekdays, French public holidays.

Pure: ``now`` is always an argument (naive local time of the town, as the call log keeps
it). Holidays come from the ``holidays`` package through ``callbot.kb.hours``, the same
calendar the opening hours use (Easter Monday, Ascension and Whit Monday included).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from callbot.campaigns.model import CallingWindow
from callbot.kb.hours import holiday_name

#: How far ahead the next opening is looked for (a window with no weekday has none).
SEARCH_DAYS = 31


def day_allowed(window: CallingWindow, day: date, emergency: bool) -> bool:
    """May calls be placed on ``day`` at all? An emergency ignores Sundays and holidays."""
    if emergency:
        return True
    return day.weekday() in window.weekdays and holiday_name(day) is None


def why_closed(window: CallingWindow, now: datetime, emergency: bool) -> str | None:
    """``None`` when a call may start at ``now``, else the reason in a few words."""
    if not emergency:
        holiday = holiday_name(now.date())
        if holiday:
            return f"public holiday ({holiday})"
        if now.weekday() not in window.weekdays:
            return "no calls on this weekday"
    if now.time() < window.start:
        return f"before {window.start:%H:%M}"
    if now.time() >= window.end:
        return f"after {window.end:%H:%M}"
    return None


def is_open(window: CallingWindow, now: datetime, emergency: bool) -> bool:
    return why_closed(window, now, emergency) is None


def next_opening(window: CallingWindow, now: datetime, emergency: bool) -> datetime | None:
    """``now`` if a call may start now, else the first moment one may; ``None`` if there is
    none within ``SEARCH_DAYS``."""
    if is_open(window, now, emergency):
        return now
    for offset in range(SEARCH_DAYS + 1):
        day = now.date() + timedelta(days=offset)
        opening = datetime.combine(day, window.start)
        if opening >= now and window.start < window.end and day_allowed(window, day, emergency):
            return opening
    return None
