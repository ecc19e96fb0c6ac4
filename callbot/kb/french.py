"""Small French grammar helpers for sentences built around names with articles."""

from __future__ import annotations

_VOWELS = frozenset("aeiouyhéèêàâîôû")
_CONTRACTIONS = {"à": {"le ": "au ", "les ": "aux "}, "de": {"le ": "du ", "les ": "des "}}


def with_preposition(preposition: str, name: str) -> str:
    """'à' + 'le cimetière' → 'au cimetière'; 'de' + 'les encombrants' → 'des encombrants'."""
    for article, contracted in _CONTRACTIONS.get(preposition, {}).items():
        if name.startswith(article):
            return contracted + name[len(article) :]
    if preposition == "de" and name[:1].lower() in _VOWELS:
        return f"d'{name}"
    return f"{preposition} {name}"
