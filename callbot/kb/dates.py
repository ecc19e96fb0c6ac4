"""Dates as callers say them: "le 24 décembre", "le premier janvier", "vingt-cinq décembre"."""

from __future__ import annotations

import re
from datetime import date

from num2words import num2words

from callbot.kb.hours import MONTHS_FR
from callbot.nlu.text import fold

_MONTHS = {fold(name): number for number, name in enumerate(MONTHS_FR, start=1)}
_DAY_WORDS = {fold(num2words(n, lang="fr")).replace("-", " "): n for n in range(1, 32)}
_DAY_WORDS.update({"premier": 1, "1er": 1})
_DAY = "|".join(sorted((re.escape(w) for w in _DAY_WORDS), key=len, reverse=True))
_DATE = re.compile(rf"(?<!\w)(\d{{1,2}}|{_DAY})\s+({'|'.join(_MONTHS)})(?!\w)")


def find_date(text: str, today: date) -> date | None:
    """The first day-and-month in the text, this year or next (never in the past)."""
    match = _DATE.search(fold(text).replace("-", " "))
    if not match:
        return None
    day_text, month = match.groups()
    day = int(day_text) if day_text.isdigit() else _DAY_WORDS[day_text]
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, _MONTHS[month], day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None
