"""Written French → spoken French, for speech synthesis.

Hours ("8h30" → "huit heures trente"), phone numbers read in pairs, amounts in euros,
ordinals and dates, percentages and the abbreviations a town hall uses. Number words come
from ``num2words``. ``unspeakable`` says why a text cannot be spoken, for validation.
"""

from __future__ import annotations

import re

from num2words import num2words

ABBREVIATIONS: dict[str, str] = {
    "M.": "monsieur",
    "Mme": "madame",
    "Mlle": "mademoiselle",
    "n°": "numéro",
    "N°": "numéro",
    "RDV": "rendez-vous",
    "av.": "avenue",
    "bd": "boulevard",
    "St": "Saint",
    "Ste": "Sainte",
    "CCAS": "cé cé a esse",
    "PLU": "pé elle u",
    "PACS": "pacse",
    "CNI": "cé enne i",
    "JDC": "ji dé cé",
    "CAF": "caf",
    "HLM": "hache elle emme",
    "ANTS": "a enne té esse",
    "SNCF": "esse enne cé effe",
    "etc.": "et cetera",
}

_WORD_ABBREVIATIONS = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")(?![\w])"
)
_PHONE = re.compile(r"(?<!\d)(0\d)(?:[ .]?(\d{2})){4}(?!\d)")
_PHONE_PAIRS = re.compile(r"\d{2}")
_AMOUNT = re.compile(r"(\d+)(?:,(\d{1,2}))?\s?(?:€|euros?\b)")
_TIME = re.compile(r"(?<![\w])(\d{1,2})\s?h\s?(\d{2})?(?![\w])")
_ORDINAL = re.compile(r"(?<![\w])(\d+)(er|re|ère|e|ème)(?![\w])")
_PERCENT = re.compile(r"(\d+(?:,\d+)?)\s?%")
_DECIMAL = re.compile(r"(?<![\w,])(\d+),(\d+)(?![\w,])")
_NUMBER = re.compile(r"\d+")
_SPEAKABLE = re.compile(r"[^\W\d_]|[\s.,;:!?'’\-«»\"()]")
_UNKNOWN_ACRONYM = re.compile(r"\b[A-Z]{2,}\b")
#: Longer runs of digits are no phone number, price or date: nobody can follow them spoken.
MAX_NUMBER_DIGITS = 15
_LONG_NUMBER = re.compile(rf"\d{{{MAX_NUMBER_DIGITS + 1},}}")


def _n(value: int | float, **kwargs: str) -> str:
    return num2words(value, lang="fr", **kwargs)


def _phone(match: re.Match[str]) -> str:
    return phone_in_pairs(re.sub(r"\D", "", match.group(0)))


def phone_in_pairs(digits: str) -> str:
    """"0612345678" as said: "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit"."""
    words = []
    for pair in _PHONE_PAIRS.findall(digits):
        words.append(f"zéro {_n(int(pair[1]))}" if pair[0] == "0" else _n(int(pair)))
    return ", ".join(words)


def _amount(match: re.Match[str]) -> str:
    euros = int(match.group(1))
    cents = int((match.group(2) or "0").ljust(2, "0"))
    spoken = f"{_n(euros)} euro" + ("s" if euros > 1 else "")
    return spoken + (f" {_n(cents)}" if cents else "")


def _time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 24 or minutes > 59:
        return match.group(0)
    spoken = "une heure" if hours == 1 else f"{_n(hours)} heures"
    return spoken + (f" {_n(minutes)}" if minutes else "")


def _ordinal(match: re.Match[str]) -> str:
    value = int(match.group(1))
    return "premier" if value == 1 and match.group(2) == "er" else (
        "première" if value == 1 else _n(value, to="ordinal"))


def _percent(match: re.Match[str]) -> str:
    return f"{_decimal_words(match.group(1))} pour cent"


def _decimal_words(text: str) -> str:
    whole, _, fraction = text.partition(",")
    return _n(int(whole)) + (f" virgule {_n(int(fraction))}" if fraction else "")


def to_spoken(text: str) -> str:
    """The text as a French speaker would read it aloud."""
    text = text.replace("\u00a0", " ").replace("’", "'")
    text = _PHONE.sub(_phone, text)
    text = _AMOUNT.sub(_amount, text)
    text = _PERCENT.sub(_percent, text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(_ordinal, text)
    text = _WORD_ABBREVIATIONS.sub(lambda m: ABBREVIATIONS[m.group(1)], text)
    text = _DECIMAL.sub(lambda m: _decimal_words(m.group(0)), text)
    text = _NUMBER.sub(lambda m: _n(int(m.group(0))), text)
    return " ".join(text.split())


def unspeakable(text: str) -> str | None:
    """Why the text cannot be spoken, or ``None`` when it can."""
    lowered = text.lower()
    if "http" in lowered or "www." in lowered or "@" in text:
        return "contains a web or e-mail address: say where to find it in words instead"
    if _LONG_NUMBER.search(text):
        return f"a number of more than {MAX_NUMBER_DIGITS} digits: write it in words or split it"
    spoken = to_spoken(text)
    acronym = _UNKNOWN_ACRONYM.search(spoken)
    if acronym:
        return f"abbreviation '{acronym.group(0)}' has no spoken form (add it to ABBREVIATIONS)"
    odd = sorted({c for c in spoken if not _SPEAKABLE.match(c)})
    if odd:
        return f"characters that cannot be spoken: {' '.join(odd)}"
    return None
