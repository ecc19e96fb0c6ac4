"""What a person called by the town answered, in a few kinds: yes, no, all is well, help, stop
calling me, say it again, or none of these.

A small French matcher, not the inbound NLU: that one knows the town's topics, while here the
question is always the same and a miss is costly. So the order of the checks is the safety
order: any sign of distress first ("je suis tombée", "j'ai très chaud", "au secours"), then a
request to stop the calls, then "je n'ai besoin de rien" (a no that means all is well), then a
request for help or a person, a "ça ne va pas", a "ça va", a request to repeat, and last a
plain yes or no (``callbot.errands.when.parse_yes_no``, the booking dialogue's, shared).
Text is compared folded (no case, no accents, one kind of apostrophe).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from callbot.errands.when import parse_yes_no
from callbot.nlu.text import fold


class Reply(StrEnum):
    YES = "yes"
    NO = "no"
    FINE = "fine"  # "ça va", "je n'ai besoin de rien": well, whatever the question
    HELP = "help"  # distress, "ça ne va pas", "j'ai besoin d'aide", a person asked for
    OPT_OUT = "opt_out"
    REPEAT = "repeat"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Heard:
    reply: Reply
    cue: str = ""  # the words that decided it, for the call log's "why"


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


_DISTRESS = _words(
    r"au secours", r"a l'aide", r"aidez[ -]moi", r"je suis tombee?", r"je (?:viens de|me suis) tomb\w*",
    r"chute", r"malaise", r"je me sens mal", r"je suis mal", r"j'ai mal", r"douleurs?",
    r"j'ai (?:tres |trop |si |tellement |vraiment )?chaud",
    r"je (?:meurs|creve) de chaud", r"j'ai soif", r"vertiges?", r"etourdi\w*", r"la tete qui tourne",
    r"(?:du mal a|je n'arrive (?:pas|plus) a|peux (?:pas|plus)) (?:respirer|me lever|marcher|bouger)",
    r"essouffle\w*", r"pompiers?", r"samu", r"urgences?", r"ambulance", r"medecin", r"docteur",
    r"infirmiere?", r"j'ai peur", r"je suis perdue?",
)
_OPT_OUT = _words(
    r"ne (?:plus|pas) (?:me |m')?(?:r?appeler|telephoner)", r"ne m'appelez (?:plus|pas)",
    r"ne me (?:r?appelez|telephonez) (?:plus|pas)", r"(?:arretez|cessez|stop) de m'appeler",
    r"(?:arretez|cessez) (?:les|vos) appels", r"(?:pas besoin|inutile) de (?:me |m')?r?appeler",
    r"(?:plus|pas) (?:etre )?(?:r?appelee?|contactee?)", r"plus jamais", r"desinscri\w*",
    r"retirez[ -]moi", r"supprimez (?:mon numero|moi)", r"enlevez[ -]moi", r"liste rouge",
    r"stop", r"laissez[ -]moi tranquille",
)
_NO_NEED = _words(
    r"(?:pas|plus) besoin(?: d'aide| de rien| de quoi que ce soit)?", r"besoin de rien",
    r"tout va bien", r"ca va (?:tres )?bien", r"je vais (?:tres )?bien", r"tout est en ordre",
)
_HELP = _words(
    r"besoin d'(?:aide|un coup de main|assistance|quelqu'un)", r"besoin (?:qu'on|que quelqu'un)",
    r"(?:parler|passer) a (?:quelqu'un|une personne|un agent|un humain|un conseiller|la mairie)",
    r"une (?:vraie )?personne", r"un humain", r"aide", r"aider",
)
_REPEAT = _words(
    r"repet\w*", r"redites", r"(?:je n'ai|j'ai) pas (?:bien )?(?:compris|entendu)",
    r"je n'ai (?:pas|rien) (?:bien )?(?:compris|entendu)", r"pardon", r"comment", r"quoi",
    r"vous dites", r"c'est qui", r"qui (?:est a l'appareil|parle|etes vous)",
)
_NOT_WELL = _words(
    r"ca (?:ne )?va pas", r"pas (?:tres |trop |si )?bien",
    r"bof", r"comme ci comme ca", r"moyen(?:nement)?", r"pas (?:trop |tres )?la forme",
    r"pas en forme", r"difficile", r"dur",
)
_FINE = _words(
    r"ca va", r"bien merci", r"tres bien", r"en (?:pleine )?forme", r"impeccable", r"nickel", r"au top",
    r"ca se passe bien",
)
#: "ça va pas mal" is "rather well", "je n'ai pas mal" no pain: neither is a "pas" of distress.
_PAS_MAL = re.compile(r"\bpas mal\b")
_ORDERED: tuple[tuple[Reply, re.Pattern[str]], ...] = (
    (Reply.HELP, _DISTRESS),
    (Reply.OPT_OUT, _OPT_OUT),
    (Reply.FINE, _NO_NEED),
    (Reply.HELP, _HELP),
    (Reply.HELP, _NOT_WELL),
    (Reply.FINE, _FINE),
    (Reply.REPEAT, _REPEAT),
)


def classify(text: str) -> Heard:
    """The kind of reply ``text`` is, with the words that decided it."""
    folded = re.sub(r"[,.;:!?…]", " ", fold(text).replace("-", " "))
    folded = " ".join(_PAS_MAL.sub("bien", folded).split())
    for reply, pattern in _ORDERED:
        found = pattern.search(folded)
        if found:
            return Heard(reply, found.group(0))
    yes_no = parse_yes_no(folded)
    if yes_no is None:
        return Heard(Reply.UNKNOWN)
    return Heard(Reply.YES, "oui") if yes_no else Heard(Reply.NO, "non")


#: Keys of the phone pad: 1 yes, 2 no, * again, 0 a person.
DTMF: dict[str, Reply] = {"1": Reply.YES, "2": Reply.NO, "*": Reply.REPEAT, "0": Reply.HELP}
