"""What a caller says about *when*, and which offered slot they pick: words → values.

A small grammar of our own, not ``dateparser``. Measured (dateparser 1.5.0, French, a
relative base): ~0.8 ms per ``parse`` and ~1.6 ms per ``search_dates`` after a ~115 ms first
call and a ~95 ms import, and on our phrases it read "pas avant 10 h" as 19:00 and
"à 14 h 30" as 23:00, found nothing in "mardi prochain", "quatorze heures trente" or
"plutôt l'après-midi", gave one day for "la semaine prochaine" and took "je" for a date.
What a caller says is mostly relative ("jeudi matin", "après 16 h") and comes from speech
recognition as words; absolute dates are the one part it does well, and
``callbot.kb.dates.find_date`` already reads them. So: a pure, sub-millisecond grammar, with
number words turned into digits first ("quatorze heures trente" → "14 heures 30").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from typing import Literal

from num2words import num2words

from callbot.errands.ports import Slot
from callbot.kb.dates import find_date
from callbot.kb.hours import MONTHS_FR, next_weekday
from callbot.kb.model import WEEKDAYS_FR
from callbot.nlu.text import fold

Part = Literal["any", "morning", "afternoon"]
#: How far "n'importe quand" reaches, and how far a slot search looks ahead.
HORIZON_DAYS = 60
#: Morning slots start before this; afternoon ones at or after it.
NOON = time(12, 0)
#: "à 3 heures" on the phone of a town hall means 15 h: nobody books at night.
_FIRST_MORNING_HOUR = 8
_SATURDAY = 5

_NUMBERS = {fold(num2words(n, lang="fr")).replace("-", " "): n for n in range(2, 60)}
_NUMBERS |= {"vingt et une": 21, "trente et une": 31}
_NUMBER_WORDS = re.compile(
    r"(?<![\w'])(" + "|".join(sorted(map(re.escape, _NUMBERS), key=len, reverse=True))
    + r")(?![\w'])|(?<![\w'])une? (?=heure)")
_MONTHS = {fold(name): number for number, name in enumerate(MONTHS_FR, start=1)}
_MONTH = "|".join(_MONTHS)
_WEEKDAYS = {fold(name): number for number, name in enumerate(WEEKDAYS_FR)}
_WEEKDAY = "|".join(_WEEKDAYS)
_NOT_A_DAY_AFTER = r"(?!\s*(?:h(?![a-z])|heures?|:|\d|jours?|semaines?|mois))(?!\w)"

_ASAP = re.compile(r"plus tot possible|au plus tot|des que possible|au plus vite|n'importe quand"
                   r"|n'importe quel jour|peu importe|quand vous voulez|ca m'est egal"
                   r"|premier (?:creneau )?(?:libre|disponible)|prochain (?:creneau|disponible)")
_ABSOLUTE = re.compile(rf"(?<!\w)(?:\d{{1,2}}(?:er)?|premier) (?:{_MONTH})(?!\w)")
_IN_MONTH = re.compile(rf"\ben ({_MONTH})\b")
_RELATIVE = {"apres demain": 2, "aujourd'hui": 0, "demain": 1}
_RELATIVE_DAY = re.compile(r"\b(apres demain|aujourd'hui|demain)\b|\bcet? (?=matin|aprem)")
_NEXT_WEEK = re.compile(r"\bsemaine (?:prochaine|d'apres|suivante)\b")
_THIS_WEEK = re.compile(r"\bcette semaine\b|\bd'ici (?:la )?fin de (?:la )?semaine\b")
_IN_WEEKS = re.compile(r"\bdans (\d+) semaines?\b")
_IN_DAYS = re.compile(r"\bdans (\d+) jours\b")
_NEXT_MONTH = re.compile(r"\bmois prochain\b")
_DAY_OF_MONTH = re.compile(rf"(?:\ble|\bdu|\b(?:{_WEEKDAY}))\s+(\d{{1,2}})(?:er)?{_NOT_A_DAY_AFTER}")
_WEEKDAY_NAME = re.compile(rf"\b({_WEEKDAY})s?\b(?:\s+(prochain|en 8|d'apres|suivant))?")

# (pattern, part, not_before, not_after): the most specific first, each consumed once found
_PARTS: tuple[tuple[re.Pattern[str], Part, time | None, time | None], ...] = (
    (re.compile(r"\bentre midi et 2(?: h(?:eures?)?)?\b"), "any", NOON, time(14, 0)),
    (re.compile(r"\bfin (?:de |d')?(?:la )?matinee\b"), "morning", time(11, 0), None),
    (re.compile(r"\bdebut (?:de |d')?(?:la )?matinee\b|\btot le matin\b|\bde bonne heure\b"),
     "morning", None, time(10, 0)),
    (re.compile(r"\bdebut (?:d'|de l')?aprem\b"), "afternoon", None, time(15, 0)),
    (re.compile(r"\bfin (?:d'|de l')?aprem\b|\bfin de (?:la )?journee\b"), "afternoon", time(16, 0),
     None),
    (re.compile(r"\bmatin(?:ee|s)?\b"), "morning", None, None),
    (re.compile(r"\baprem\b|\bapres (?:le )?(?:dejeuner|manger)\b"), "afternoon", None, None),
)
_CLOCK = re.compile(
    r"(?<![\w:])(?P<h>\d{1,2})\s*(?:heures?|h|:)(?![a-z])\s*"
    r"(?P<m>\d{2}(?!\d)|et demie?|et quart|moins (?:le )?quart)?(?P<am>\s+du matin)?"
    r"|(?<!\w)midi(?:\s+(?P<noon_m>et demie?|et quart|\d{2}(?!\d)))?(?!\w)")
_MINUTE_WORDS = {"et demi": 30, "et demie": 30, "et quart": 15, "moins le quart": -15,
                 "moins quart": -15}
# what a time follows decides what it bounds; "pas avant" before "avant", "pas après" before "après"
_BOUNDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bpas avant(?: (?:a|de))?$"), "not_before"),
    (re.compile(r"\b(?:pas apres|pas plus tard que)(?: a)?$"), "not_after"),
    (re.compile(r"\b(?:avant|jusqu'a|au plus tard|d'ici)(?: a)?$"), "not_after"),
    (re.compile(r"\b(?:apres|a partir d[e']|des|plus tard que|au plus tot)(?: (?:a|de))?$"),
     "not_before"),
    (re.compile(r"\bentre$"), "not_before"),
)

_ORDINALS = {"premier": 0, "premiere": 0, "1er": 0, "1ere": 0, "deuxieme": 1, "second": 1,
             "seconde": 1, "2e": 1, "2eme": 1, "troisieme": 2, "3e": 2, "3eme": 2}
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r"|dernier|derniere)\b")

# the NLU's affirm/deny examples (nlu_data/nlu/part1*.yml) as cues: a "no" cue wins, so
# "absolument pas" and "pas exactement non" are a no; a polite "pas de souci" is a yes
_YES_PHRASES = re.compile(r"\bpas de (?:souci|soucis|probleme)\b|\bsans probleme\b")
_NO = re.compile(r"\b(?:non|nan|pas|jamais|negatif|nope)\b")
_YES = re.compile(
    r"\b(?:oui|ouais|ouai|mouais|si|d'accord|ok|okay|exactement|exact|tout a fait|c'est (?:bien )?ca|voila"
    r"|absolument|bien sur|parfait|parfaitement|entendu|ca marche|ca me va|correct|volontiers"
    r"|carrement|affirmatif|yes|allez y|vas y|je veux bien|c'est bon|tres bien|je confirme"
    r"|confirmez|d'ac|impeccable|super|nickel|ca va)\b")


@dataclass(frozen=True)
class When:
    """The caller's wish: a span of days, a half-day, bounds on the start, or an hour."""

    first_day: date
    last_day: date
    part: Part = "any"
    not_before: time | None = None  # the slot starts at or after this
    not_after: time | None = None  # the slot ends by this
    at: time | None = None  # "à 14 h 30", "vers 10 heures": a slot starting ±30 min around it

    @classmethod
    def asap(cls, today: date) -> When:
        """Any day from today on, as far as a search looks."""
        return cls(today, today + timedelta(days=HORIZON_DAYS - 1))


@dataclass(frozen=True)
class _Mentions:
    """Everything said about time in one sentence, before it is made into a ``When``."""

    days: tuple[date, ...] = ()  # named days: dates, "demain", "aujourd'hui"
    day_numbers: tuple[int, ...] = ()  # "le 12", "mardi 9": a day of the month
    weekdays: tuple[tuple[int, str | None], ...] = ()  # "mardi", "jeudi prochain"
    span: tuple[date, date] | None = None  # "la semaine prochaine"
    asap: bool = False
    part: Part = "any"
    not_before: time | None = None
    not_after: time | None = None
    at: time | None = None

    @property
    def says_day(self) -> bool:
        return bool(self.days or self.day_numbers or self.weekdays or self.span or self.asap)

    @property
    def says_hour(self) -> bool:
        return self.part != "any" or any((self.not_before, self.not_after, self.at))


def normalise(text: str) -> str:
    """Folded, one space between words, "après-midi" as "aprem", number words as digits."""
    folded = " ".join(fold(text).replace("-", " ").split())
    folded = re.sub(r"\bapres midi\b|\baprems?\b", "aprem", folded)
    return _NUMBER_WORDS.sub(lambda m: str(_NUMBERS[m.group(1)]) if m.group(1) else "1 ", folded)


def _take(pattern: re.Pattern[str], text: str) -> tuple[list[re.Match[str]], str]:
    """The matches, and the text with them blanked out so no later pattern reads them again."""
    matches = list(pattern.finditer(text))
    for match in matches:
        text = text[:match.start()] + " " * (match.end() - match.start()) + text[match.end():]
    return matches, text


def _day_of_month(day: int, today: date) -> date | None:
    """The 12th of this month, or of the next months if past (or missing, like a 31st)."""
    year, month = today.year, today.month
    for _ in range(3):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _week(monday: date) -> tuple[date, date]:
    """Monday to Saturday: the days a town hall receives."""
    return monday, monday + timedelta(days=_SATURDAY)


def _month_span(month: int, today: date) -> tuple[date, date]:
    year = today.year if month >= today.month else today.year + 1
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return max(today, date(year, month, 1)), following - timedelta(days=1)


def _days(text: str, today: date) -> tuple[_Mentions, str]:
    """The days a sentence names, and the sentence with them taken out."""
    found: list[date] = []
    span: tuple[date, date] | None = None
    monday = today - timedelta(days=today.weekday())
    asap, text = _take(_ASAP, text)
    absolute, text = _take(_ABSOLUTE, text)
    found += [d for m in absolute if (d := find_date(m.group(0), today))]
    in_month, text = _take(_IN_MONTH, text)
    if in_month:
        span = _month_span(_MONTHS[in_month[0].group(1)], today)
    relative, text = _take(_RELATIVE_DAY, text)
    found += [today + timedelta(days=_RELATIVE.get(m.group(1) or "", 0)) for m in relative]
    for pattern, week in ((_NEXT_WEEK, lambda _: _week(monday + timedelta(days=7))),
                          (_THIS_WEEK, lambda _: (today, max(today, _week(monday)[1]))),
                          (_IN_WEEKS, lambda m: _week(monday + timedelta(weeks=int(m.group(1))))),
                          (_NEXT_MONTH, lambda _: _month_span(today.month % 12 + 1, today))):
        matches, text = _take(pattern, text)
        span = week(matches[0]) if matches else span
    in_days, text = _take(_IN_DAYS, text)
    for ahead in (today + timedelta(days=int(m.group(1))) for m in in_days):
        if ahead - today >= timedelta(weeks=1):  # "dans quinze jours": that week
            span = _week(ahead - timedelta(days=ahead.weekday()))
        else:
            found.append(ahead)
    numbered, text = _take(_DAY_OF_MONTH, text)
    named, text = _take(_WEEKDAY_NAME, text)
    weekdays = tuple((_WEEKDAYS[m.group(1)], m.group(2)) for m in named)
    numbers = tuple(int(m.group(1)) for m in numbered)
    return _Mentions(tuple(found), numbers, weekdays, span, bool(asap)), text


def _clock(match: re.Match[str]) -> time | None:
    if match.group("h") is None:
        minutes = match.group("noon_m") or ""
        return time(12, _MINUTE_WORDS.get(minutes, int(minutes) if minutes.isdigit() else 0))
    hour, minutes = int(match.group("h")), match.group("m") or ""
    if hour > 23:
        return None
    if hour < _FIRST_MORNING_HOUR and not match.group("am"):
        hour += 12
    offset = _MINUTE_WORDS.get(minutes, int(minutes) if minutes.isdigit() else 0)
    if offset >= 60:
        return None
    total = hour * 60 + offset
    return time(total // 60 % 24, total % 60)


def _hours(text: str) -> _Mentions:
    """The half-day, bounds and hour a sentence gives (the days already taken out)."""
    part: Part = "any"
    bounds: dict[str, time | None] = {"not_before": None, "not_after": None, "at": None}
    for pattern, said_part, not_before, not_after in _PARTS:
        matches, text = _take(pattern, text)
        if matches:
            part = said_part if part == "any" else part
            bounds["not_before"] = bounds["not_before"] or not_before
            bounds["not_after"] = bounds["not_after"] or not_after
    between = False
    for match in _CLOCK.finditer(text):
        value = _clock(match)
        if value is None:
            continue
        before = text[:match.start()].rstrip()
        kind = next((k for pattern, k in _BOUNDS if pattern.search(before)), "at")
        if between and before.endswith(" et"):
            kind = "not_after"
        between = before.endswith("entre")
        bounds[kind] = value
    return _Mentions(part=part, **bounds)


def _mentions(text: str, today: date) -> _Mentions:
    days, rest = _days(normalise(text), today)
    hours = _hours(rest)
    return replace(hours, days=days.days, day_numbers=days.day_numbers, weekdays=days.weekdays,
                   span=days.span, asap=days.asap)


def _resolve_weekday(weekday: int, qualifier: str | None, today: date) -> date:
    """"mardi": the next Tuesday, today excluded; "mardi prochain": the same, unless that is
    still this week (then the week after); "mardi en huit": a week after "mardi"."""
    day = next_weekday(today + timedelta(days=1), weekday)
    this_sunday = today + timedelta(days=6 - today.weekday())
    if qualifier in ("prochain", "suivant", "d'apres") and day <= this_sunday:
        day += timedelta(days=7)
    return day + timedelta(days=7) if qualifier == "en 8" else day


def _day_span(said: _Mentions, today: date) -> tuple[date, date] | None:
    if said.span and said.weekdays:  # "mardi de la semaine prochaine"
        first = said.span[0]
        inside = [first + timedelta(days=(w - first.weekday()) % 7) for w, _ in said.weekdays]
        days = [d for d in inside if d <= said.span[1]] or inside
        return min(days), max(days)
    numbered = (d for n in said.day_numbers if (d := _day_of_month(n, today)))
    days = [*said.days, *numbered, *(_resolve_weekday(w, q, today) for w, q in said.weekdays)]
    if days:
        return min(days), max(days)
    if said.span:
        return said.span
    return None


def _to_when(said: _Mentions, today: date, days: tuple[date, date] | None) -> When:
    first, last = days or (today, today + timedelta(days=HORIZON_DAYS - 1))
    return When(first, last, said.part, said.not_before, said.not_after, said.at)


def parse_when(text: str, today: date) -> When | None:
    """The caller's wish, or ``None`` when the sentence says nothing about when."""
    said = _mentions(text, today)
    if not (said.says_day or said.says_hour):
        return None
    return _to_when(said, today, None if said.asap else _day_span(said, today))


def refine_when(previous: When, text: str, today: date) -> When | None:
    """A new wish after an offer: what it does not mention stays as it was ("plutôt
    l'après-midi" keeps the days, "et jeudi ?" keeps the morning)."""
    said = _mentions(text, today)
    if not (said.says_day or said.says_hour):
        return None
    days = None if said.asap else _day_span(said, today)
    if not said.says_day:
        days = (previous.first_day, previous.last_day)
    wish = _to_when(said, today, days)
    if said.says_hour:
        return wish
    return replace(wish, part=previous.part, not_before=previous.not_before,
                   not_after=previous.not_after, at=previous.at)


def _fits(slot: Slot, said: _Mentions) -> bool:
    """Whether a slot has every day and half-day the caller named (the hour is checked apart)."""
    start = slot.start
    return ((not said.weekdays or start.weekday() in {w for w, _ in said.weekdays})
            and (not said.day_numbers or start.day in said.day_numbers)
            and (not said.days or start.date() in said.days)
            and (said.part == "any" or (start.time() < NOON) == (said.part == "morning")))


def parse_choice(text: str, offered: list[Slot], today: date) -> int | None:
    """Which offered slot the caller picks ("le premier", "celui de mardi", "10 h 30"), or
    ``None`` when the words fit none or more than one. ``today`` reads "celui de demain"."""
    folded = normalise(text)
    ordinal = _ORDINAL.search(folded)
    if ordinal and offered and not re.search(rf"\bpremier (?:{_MONTH})\b", folded):
        word = ordinal.group(1)
        index = len(offered) - 1 if word.startswith("dernier") else _ORDINALS[word]
        return index if index < len(offered) else None
    said = _mentions(text, today)
    if said.span or said.asap:  # "plutôt la semaine prochaine": other days than those offered
        return None
    if not (said.days or said.day_numbers or said.weekdays or said.part != "any" or said.at):
        return None
    fitting = [i for i, slot in enumerate(offered) if _fits(slot, said)]
    if said.at is not None:  # "10 h 30" is that slot; "10 heures" any slot in that hour
        at = said.at
        exact = [i for i in fitting if offered[i].start.time() == at]
        fitting = exact or [i for i in fitting if at.minute == 0 and offered[i].start.hour == at.hour]
    return fitting[0] if len(fitting) == 1 else None


def parse_yes_no(text: str) -> bool | None:
    """``True`` for a yes ("oui", "d'accord", "c'est ça", "parfait"), ``False`` for a no ("non",
    "pas du tout", "non merci"), ``None`` when it is neither."""
    folded = _YES_PHRASES.sub(" oui ", " ".join(fold(text).replace("-", " ").split()))
    if _NO.search(folded):
        return False
    return True if _YES.search(folded) else None
