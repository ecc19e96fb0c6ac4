"""Slots and names as the bot says them, and names as a caller says or spells them.

Days come from ``callbot.kb.hours.format_day`` ("demain", "mardi 9 décembre", "1er"), as the
rest of the bot says them. Hours are written "10 h 30", the French typographic form, which
``callbot.kb.speakable.to_spoken`` reads like "10h30" ("dix heures trente").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, time

from callbot.errands.ports import Slot
from callbot.kb.hours import format_day, format_time
from callbot.nlu.text import fold

# a letter as speech recognition writes it when a caller spells ("dé", "enne", "i grec")
_LETTER_NAMES = {
    "a": "A", "ah": "A", "b": "B", "be": "B", "c": "C", "ce": "C", "se": "C", "d": "D", "de": "D",
    "e": "E", "eu": "E", "f": "F", "ef": "F", "effe": "F", "g": "G", "ge": "G", "h": "H",
    "ache": "H", "hache": "H", "i": "I", "j": "J", "ji": "J", "gi": "J", "k": "K", "ka": "K",
    "l": "L", "el": "L", "elle": "L", "m": "M", "em": "M", "emme": "M", "n": "N", "en": "N",
    "enne": "N", "o": "O", "oh": "O", "au": "O", "eau": "O", "p": "P", "pe": "P", "q": "Q",
    "qu": "Q", "ku": "Q", "cu": "Q", "r": "R", "er": "R", "erre": "R", "s": "S", "es": "S",
    "esse": "S", "t": "T", "te": "T", "u": "U", "v": "V", "ve": "V", "w": "W", "x": "X",
    "ix": "X", "ixe": "X", "iks": "X", "y": "Y", "igrec": "Y", "z": "Z", "zed": "Z", "zede": "Z",
    "tiret": "-", "trait d'union": "-", "apostrophe": "'", "espace": " ",
}
_LETTER = re.compile(
    r"double (?:ve|v)\b|i grec|trait d'union|(?:2|deux) (\w+)|(\w+) comme \w+|([\w']+)")
# what a caller says around the letters: skipped
_FILLERS = frozenset({"euh", "alors", "donc", "et", "ca", "s'ecrit", "c'est", "je", "vous", "epelle",
                      "oui", "voila", "ensuite", "puis", "apres", "majuscule", "comme"})
#: Fewer letters than this is no spelling (a lone "a" or "et").
MIN_SPELLED_LETTERS = 2
#: More words than this is a sentence, not a name.
MAX_NAME_WORDS = 3
_NAME_LEAD = re.compile(
    r"^(?:(?:euh|alors|oui|non|bah?|ben|donc|c'est|c'est au nom de|au nom de|a mon nom|je m'appelle"
    r"|je suis|mon nom est|mon nom c'est|mon nom|moi c'est|nom|madame|monsieur|mademoiselle|mme)"
    r"\b[\s,.]*)+")
_NAME_WORD = re.compile(r"^[^\W\d_]{2,}(?:['-][^\W\d_]+)*$")
_NOT_NAMES = frozenset({"oui", "non", "merci", "pardon", "quoi", "comment", "attendez", "bonjour"})
_READ_SYMBOLS = {"-": "tiret", "'": "apostrophe", " ": "espace"}


def say_time(value: time) -> str:
    """"10 h 30", "14 h"."""
    return format_time(value).replace("h", " h ").strip()


def say_slot(slot: Slot, today: date) -> str:
    """"mardi 9 décembre à 10 h 30", "demain à 14 h", "aujourd'hui à 16 h 15"."""
    return f"{format_day(slot.start.date(), today)} à {say_time(slot.start.time())}"


def write_slot(slot: Slot) -> str:
    """The slot for a text read later (an SMS): never "demain", and "10h30" as the bot writes."""
    # date.min is nobody's today nor yesterday: format_day then names the day in full
    return f"{format_day(slot.start.date(), date.min)} à {format_time(slot.start.time())}"


def say_slots(slots: Sequence[Slot], today: date) -> str:
    """"mardi 9 décembre à 10 h 30, ou jeudi 11 décembre à 14 h"; a second slot the same day
    says only its hour ("demain à 10 h, ou à 14 h")."""
    spoken = []
    for index, slot in enumerate(slots):
        same_day = index > 0 and slot.start.date() == slots[index - 1].start.date()
        spoken.append(f"à {say_time(slot.start.time())}" if same_day else say_slot(slot, today))
    if len(spoken) < 2:
        return "".join(spoken)
    return f"{', '.join(spoken[:-1])}, ou {spoken[-1]}"


def spell_out(name: str) -> str:
    """"Dupont" → "D, U, P, O, N, T": a name read back letter by letter."""
    return ", ".join(_READ_SYMBOLS.get(c, c.upper()) for c in name.strip())


def read_spelling(text: str) -> str | None:
    """"D U P O N T", "dé u pé o enne té", "D comme Denise, deux L" → "DUPONT", "DLL"; ``None``
    when a word is no letter (the caller said a name, not its spelling)."""
    letters: list[str] = []
    for match in _LETTER.finditer(fold(text).replace("-", " ")):
        word = match.group(0)
        if word.startswith("double"):
            letters.append("W")
        elif word == "i grec":
            letters.append("Y")
        elif match.group(1):  # "deux L"
            letter = _LETTER_NAMES.get(match.group(1))
            if letter is None:
                return None
            letters += [letter, letter]
        elif match.group(2):  # "D comme Denise"
            letter = _LETTER_NAMES.get(match.group(2))
            if letter is None:
                return None
            letters.append(letter)
        elif word in _LETTER_NAMES:
            letters.append(_LETTER_NAMES[word])
        elif word not in _FILLERS:
            return None
    spelled = "".join(letters).strip(" -'")
    return spelled if sum(c.isalpha() for c in spelled) >= MIN_SPELLED_LETTERS else None


def _title(name: str) -> str:
    """"le goff", "MARTIN-DUBOIS" → "Le Goff", "Martin-Dubois"."""
    return " ".join("-".join(p[:1].upper() + p[1:].lower() for p in w.split("-")) for w in name.split())


def name_from_spelling(letters: str) -> str:
    """"LE GOFF" (from ``read_spelling``) → "Le Goff", as the recap and the calendar write it."""
    return _title(letters)


def parse_name(text: str) -> str | None:
    """"c'est madame Dupont", "je m'appelle Jean Le Goff" → "Dupont", "Jean Le Goff"; ``None``
    when what is left is no name."""
    lead = _NAME_LEAD.match(fold(text).strip())  # fold keeps positions: cut the original
    rest = text.strip()[lead.end() if lead else 0:].strip(" .,!?")
    words = [w for w in rest.replace(",", " ").split() if fold(w) != "merci"]
    if not words or len(words) > MAX_NAME_WORDS or not all(_NAME_WORD.match(w) for w in words):
        return None
    return None if fold(" ".join(words)) in _NOT_NAMES else _title(" ".join(words))
