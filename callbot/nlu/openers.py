"""Call openers ("allô oui bonjour madame") taken off the front of a question.

On the phone almost every first sentence starts with a greeting; left in, it weighs on
the match as much as the question (a 0.9 topic fell to about 0.5). Only a *leading* run of
openers is removed, and only when words are left: "bonjour" alone stays a greeting. A "oui" is an opener only
before a greeting ("allô oui bonjour"): elsewhere it is the caller's answer.
"""

from __future__ import annotations

import re

_OPENER_WORDS = (
    r"all[oô]|allo|(?:oui|ouais)(?=[\s,]+(?:bonjour|bonsoir|all[oô]|madame|monsieur))|bonjour|bonsoir|salut|hello|coucou|madame|monsieur|mademoiselle"
    r"|messieurs dames|m'sieur|euh+|heu+|hum|bah?|ben|alors|voil[aà]|excusez[- ]moi"
    r"|pardon|s'il vous pla[iî]t|la mairie|c'est la mairie|je vous appelle|j'appelle"
    r"|je vous t[ée]l[ée]phone|parce que|donc|écoutez|ecoutez|dites[- ]moi"
)
_LEADING = re.compile(rf"^(?:(?:{_OPENER_WORDS})\b[\s,.!?;:…-]*)+", re.IGNORECASE)
#: Fewer words than this left over: the caller said little more than hello, keep it all.
MIN_WORDS_LEFT = 2


def strip_openers(text: str) -> str:
    """``text`` without its leading openers, or unchanged when nothing much would be left."""
    rest = _LEADING.sub("", text.strip(), count=1)
    return rest if len(rest.split()) >= MIN_WORDS_LEFT else text


def leading_yes_no(text: str) -> str | None:
    """The question after a leading "oui"/"non" ("oui comment je prends rendez-vous"), or
    ``None`` when the sentence is not a yes/no followed by more."""
    match = re.match(r"^\s*(?:oui|ouais|non|d'accord|ok|okay)\b[\s,.!?]*(?:merci\b[\s,.]*)?(.+)$",
                     text, re.IGNORECASE)
    if not match or len(match.group(1).split()) < 3:
        return None
    return match.group(1)
