"""Phone numbers as French callers say them, and as the bot reads them back.

Callers give a number in pairs ("zéro six, douze, trente-quatre, cinquante-six,
soixante-dix-huit"), digit by digit ("zéro six un deux trois quatre…"), mixed ("06 12
trente-quatre…"), with the country code ("plus trente-trois six…", "+33 (0)6…", "0033…"),
with a "euh" or an "et" between pairs, or in two goes. ``digit_runs`` finds every run of
digits in a sentence, number words included, with where it is in the text (the call log
redacts the long ones: ``callbot.privacy``); ``read_number`` makes a national number of
them. The transcripts it reads are speech recognition's: lower case, no punctuation, and
"vingt deux" for 22. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from callbot.kb.speakable import phone_in_pairs
from callbot.nlu.text import fold

NATIONAL_DIGITS = 10
#: A run this long is a phone number (or another identifier) however it was said.
IDENTIFIER_MIN_DIGITS = 9
_UNITS = {"zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
          "six": 6, "sept": 7, "huit": 8, "neuf": 9}
_TEENS = {"dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
          "seize": 16}
_TENS = {"vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60,
         "septante": 70, "huitante": 80, "octante": 80, "nonante": 90}
#: Said between two pairs without breaking the number: "cinquante-six et soixante-dix-huit".
_FILLERS = frozenset({"et", "euh", "heu", "hum", "ben", "puis", "alors", "voila"})
_TOKEN = re.compile(r"\+|\d+|[a-z]+")
_OTHER_NUMBER = re.compile(r"\b(?:(?:un |l')?autre (?:numero|portable|telephone|mobile)"
                           r"|pas (?:a |sur |au )?(?:ce|le meme) numero|pas (?:a |sur )?celui la)\b")
_MOBILE = re.compile(r"0[67]\d{8}")
_NATIONAL = re.compile(r"0[1-9]\d{8}")
_FOREIGN = re.compile(r"\+(?!33)[1-9]\d{7,14}")


@dataclass(frozen=True)
class DigitRun:
    """Digits said one after the other, and where they are in the text (``start:end``)."""

    start: int
    end: int
    digits: str  # "+33612345678", "0612", "1" …
    in_words: bool = False  # some of it said in words ("zéro six 12…"), not all in digits


class Reading(StrEnum):
    NUMBER = "number"  # ten digits, 0 then 1-9
    PARTIAL = "partial"  # the start of one: the caller goes on in the next sentence
    NONE = "none"  # no number, or one that cannot be a French number


@dataclass(frozen=True)
class NumberRead:
    reading: Reading
    digits: str = ""  # national: "0612345678", or what was said so far

    @property
    def mobile(self) -> bool:
        """Whether an SMS can reach it (06, 07)."""
        return bool(_MOBILE.fullmatch(self.digits))


def digit_runs(text: str) -> list[DigitRun]:
    """Every run of digits in ``text``, digits and number words alike ("zéro six douze" →
    "0612"); a run ends at a word that is neither a number nor a filler."""
    folded = fold(text)  # one character for one character: positions hold in ``text``
    tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(folded)]
    runs: list[DigitRun] = []
    i = 0
    while i < len(tokens):
        digits, start, end, j, words = "", tokens[i][1], tokens[i][2], i, False
        if tokens[i][0] in ("+", "plus"):
            digits, j, words = "+", i + 1, tokens[i][0] == "plus"
        while j < len(tokens):
            said, used = _number_at([t[0] for t in tokens], j)
            if said is None:
                if tokens[j][0] in _FILLERS and digits.strip("+") and j + 1 < len(tokens) \
                        and _number_at([t[0] for t in tokens], j + 1)[0] is not None:
                    j += 1
                    continue
                break
            words = words or not tokens[j][0].isdigit()
            digits, end, j = digits + said, tokens[j + used - 1][2], j + used
        if digits.strip("+"):
            runs.append(DigitRun(start, end, digits, words))
            i = j
        else:
            i += 1
    return runs


def read_number(text: str, said_before: str = "") -> NumberRead:
    """The French number ``text`` gives (after ``said_before``, digits the caller already
    said in the last sentence): the first run that makes one, else the start of one."""
    partial = None
    for run in digit_runs(text):  # "la suite" of the last sentence, or a number said afresh
        for digits in dict.fromkeys((said_before + run.digits, run.digits)):
            reading = _as_national(digits)
            if reading.reading is Reading.NUMBER:
                return reading
            if reading.reading is Reading.PARTIAL and partial is None:
                partial = reading
    return partial or NumberRead(Reading.NONE)


def other_number_asked(text: str) -> bool:
    """"Sur un autre numéro", "pas à ce numéro", or a number said: the SMS is not for the
    calling number."""
    return bool(_OTHER_NUMBER.search(fold(text).replace("-", " "))) or \
        read_number(text).reading is not Reading.NONE


def reachable(caller_id: str | None) -> str | None:
    """The calling number as an SMS can be sent to it, or ``None``: hidden ("anonymous",
    "unknown", empty), not a number, or a French landline. A foreign number is kept as given
    in international form (the SMSC knows more about it than we do)."""
    if not caller_id:
        return None
    given = re.sub(r"[\s.\-()]", "", _bare(caller_id))
    if _FOREIGN.fullmatch(given):
        return given
    read = _as_national(given)
    return international(read.digits) if read.reading is Reading.NUMBER and read.mobile \
        else None


def dialable(caller_id: str | None) -> bool:
    """Whether the calling number can be called back (hidden or "anonymous" cannot)."""
    if not caller_id:
        return False
    given = re.sub(r"[\s.\-()]", "", _bare(caller_id))
    return bool(_FOREIGN.fullmatch(given)) or _as_national(given).reading is Reading.NUMBER


def international(national: str) -> str:
    """"0612345678" → "+33612345678", as the SMS gateways want it."""
    return f"+33{national[1:]}"


def in_pairs(national: str) -> str:
    """How the bot reads a number back: "zéro six, douze, trente-quatre, …"."""
    return phone_in_pairs(national)


def _bare(caller_id: str) -> str:
    """"sip:+33612345678@trunk" → "+33612345678"."""
    return caller_id.split("@")[0].removeprefix("sip:").removeprefix("tel:")


def _as_national(digits: str) -> NumberRead:
    """A run's digits as a national number, the start of one, or nothing."""
    if digits.startswith("+33") or digits.startswith("0033"):
        rest = digits.removeprefix("+33").removeprefix("0033")
        national = "0" + rest.removeprefix("0")  # "+33 (0)6 …"
    elif digits.startswith("33") and len(digits) == NATIONAL_DIGITS + 1:
        national = "0" + digits[2:]  # "trente-trois, six, douze…" without the "plus"
    elif digits.startswith("0") and not digits.startswith("00"):
        national = digits
    else:
        return NumberRead(Reading.PARTIAL if digits in ("+", "+3", "00", "003") else Reading.NONE)
    if len(national) == NATIONAL_DIGITS and _NATIONAL.fullmatch(national):
        return NumberRead(Reading.NUMBER, national)
    if len(national) < NATIONAL_DIGITS and national[1:2] != "0":
        return NumberRead(Reading.PARTIAL, digits)
    return NumberRead(Reading.NONE)


def _number_at(words: list[str], i: int) -> tuple[str | None, int]:
    """(digits, tokens used) of the number said at ``words[i]``: "6" for "six", "78" for
    "soixante dix huit", "06" for "06"; ``(None, 0)`` when it is no number."""
    word = words[i]
    after = words[i + 1] if i + 1 < len(words) else ""
    if word.isdigit():
        return word, 1
    if word == "quatre" and after in ("vingt", "vingts"):
        rest, used = _below_twenty(words, i + 2)
        return str(80 + rest), 2 + used
    if word in _UNITS:
        return str(_UNITS[word]), 1
    if word == "dix" and after in ("sept", "huit", "neuf"):
        return str(10 + _UNITS[after]), 2
    if word in _TEENS:
        return str(_TEENS[word]), 1
    if word in _TENS:
        tens = _TENS[word]
        if after == "et" and i + 2 < len(words) and words[i + 2] in ("un", "une", "onze"):
            return str(tens + (1 if words[i + 2] != "onze" else 11)), 3
        if tens == 60:
            rest, used = _below_twenty(words, i + 1)
            return str(60 + rest), 1 + used
        if after in _UNITS and _UNITS[after] > 0:
            return str(tens + _UNITS[after]), 2
        return str(tens), 1
    return None, 0


def _below_twenty(words: list[str], i: int) -> tuple[int, int]:
    """(value, tokens used) of what may follow "soixante" or "quatre-vingt": 1-19, or 0."""
    word = words[i] if i < len(words) else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    if word == "dix" and after in ("sept", "huit", "neuf"):
        return 10 + _UNITS[after], 2
    if word in _TEENS:
        return _TEENS[word], 1
    if word in _UNITS and _UNITS[word] > 0:
        return _UNITS[word], 1
    return 0, 0
