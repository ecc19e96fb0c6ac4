"""Text normalisation shared by the classifier and the entity matcher.

``fold`` keeps the string length so that entity offsets found in the folded text are
valid in the caller's original text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_APOSTROPHES = str.maketrans({"’": "'", "`": "'", "ʼ": "'", "‘": "'"})
_NON_WORD = re.compile(r"[^\w']+")
MAX_TEXT_CHARS = 1000


@lru_cache(maxsize=8192)  # a few hundred distinct characters: the index folds ~10⁶ of them
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return base[:1] if base else char


def fold(text: str) -> str:
    """Lowercase, unify apostrophes and drop accents, one character for one character."""
    return "".join(_fold_char(c) for c in text.translate(_APOSTROPHES).lower())


def clean_input(text: str) -> str:
    """Make any caller input safe to parse: no control characters, bounded length."""
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())[:MAX_TEXT_CHARS]


def features_text(text: str) -> str:
    """The form the classifier sees: folded, punctuation gone, elisions split off."""
    folded = _NON_WORD.sub(" ", fold(text))
    return " ".join(folded.replace("'", "' ").split())
