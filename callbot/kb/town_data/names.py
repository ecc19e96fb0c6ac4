"""Ids and spoken names made from written names: "Médiathèque Jules Verne" → ``mediatheque_jules_verne``,
"la médiathèque Jules Verne"; header and service names compared without case or accents."""

from __future__ import annotations

import re

from callbot.nlu.text import fold

MAX_ID_CHARS = 48
_NOT_ID = re.compile(r"[^a-z0-9]+")
_ARTICLE = re.compile(r"^(le |la |les |l')", re.IGNORECASE)
_SIGLE_IN_NAME = re.compile(r"\(([A-Z][A-Z0-9]{1,9})\)")
_VOWELS = frozenset("aeiouyhéèêàâîôû")

#: Gender of the first word of a service's name, for its article. Unknown first words are
#: spoken as "le service …", which is always correct French.
HEAD_GENDER: dict[str, str] = {
    **dict.fromkeys(("mairie", "mediatheque", "bibliotheque", "ludotheque", "piscine", "police",
                     "decheterie", "dechetterie", "maison", "creche", "ecole", "salle", "garderie",
                     "halte-garderie", "agence", "permanence", "mission", "direction", "caisse",
                     "residence", "cuisine", "capitainerie", "tresorerie", "gendarmerie"), "f"),
    **dict.fromkeys(("centre", "service", "espace", "office", "point", "relais", "pole", "bureau",
                     "accueil", "cimetiere", "musee", "conservatoire", "gymnase", "stade",
                     "complexe", "multi-accueil", "guichet", "foyer", "etablissement", "camping",
                     "marche", "theatre", "cinema", "ccas", "cias", "rpe", "ram", "clic",
                     "secretariat", "standard"), "m"),
}
#: Names that read better with a noun in front: "France services" → "l'espace France services".
HEAD_PREFIX: dict[str, str] = {"france": "espace"}
#: First words a caller also says alone: "la médiathèque Jules Verne" → "la médiathèque".
SHORT_HEADS = frozenset({"mediatheque", "bibliotheque", "ludotheque", "piscine", "decheterie",
                         "dechetterie", "creche", "cimetiere", "musee", "gymnase", "stade", "mairie"})


#: Words left out of ids made from questions: "combien coûte un repas" → ``combien_coute_repas``.
FILLER_WORDS = frozenset({"a", "au", "aux", "c", "ce", "d", "de", "des", "du", "est", "j", "je",
                          "l", "la", "le", "les", "ma", "mes", "mon", "pour", "qu", "que", "quoi",
                          "un", "une"})


def make_id(text: str, max_words: int | None = None) -> str:
    """Snake-case id: accents dropped, words joined by ``_``; never starts with a digit. With
    ``max_words``, filler words are skipped before counting."""
    words = [w for w in _NOT_ID.split(fold(text)) if w]
    if max_words:
        words = [w for w in words if w not in FILLER_WORDS] or words
    ident = "_".join(words[:max_words] if max_words else words)[:MAX_ID_CHARS].strip("_")
    return f"n_{ident}" if ident[:1].isdigit() else ident


def folded_key(text: str) -> str:
    """Compare header or service names: no case, no accents, single spaces."""
    return " ".join(_NOT_ID.sub(" ", fold(text)).split())


def unique_id(wanted: str, taken: set[str]) -> str:
    ident, n = wanted, 2
    while ident in taken:
        ident, n = f"{wanted}_{n}", n + 1
    taken.add(ident)
    return ident


def strip_article(name: str) -> str:
    return _ARTICLE.sub("", name.strip())


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    """'Médiathèque Jules Verne' → 'médiathèque Jules Verne'; 'CCAS' stays 'CCAS'."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def with_article(name: str, gender_of: str | None = None) -> str:
    """'Médiathèque Jules Verne' → 'la médiathèque Jules Verne'; ``gender_of`` names the word
    that decides the article when ``name`` is a sigle ("CCAS", from "Centre communal…")."""
    head = folded_key((gender_of or name).split(" ")[0].split("'")[0]) if name.strip() else ""
    if head in HEAD_PREFIX:
        return with_article(f"{HEAD_PREFIX[head]} {name}")
    gender = HEAD_GENDER.get(head)
    if gender is None:
        return f"le service {name}"
    word = _lower_first(name)
    if word[:1].lower() in _VOWELS:
        return f"l'{word}"
    return f"{'la' if gender == 'f' else 'le'} {word}"


def short_name(spoken: str) -> str | None:
    """'la médiathèque Jules Verne' → 'la médiathèque' (only for places called by their kind)."""
    words = spoken.split(" ")
    article, rest = (words[0] + " ", words[1:]) if words[0] in ("le", "la") else ("", words)
    if not article and spoken.startswith("l'"):
        article, rest = "l'", [spoken[2:].split(" ")[0], *spoken[2:].split(" ")[1:]]
    if len(rest) < 2 or folded_key(rest[0]) not in SHORT_HEADS:
        return None
    return f"{article}{rest[0]}"


def sigle_of(name: str, sigle: str) -> str:
    """The record's ``sigle``, or one written in brackets in its name: "… (CCAS)"."""
    if sigle.strip():
        return sigle.strip()
    match = _SIGLE_IN_NAME.search(name)
    return match.group(1) if match else ""
