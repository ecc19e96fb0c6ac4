"""The ops pages' words: outcomes, actions and topics as the town hall's staff say them.

The call log keeps code names (``resolved``, ``birth_declaration``): they are the contract
of the CSV export and of ``callbot chat``. Every page shows them through this one module:
a topic by its title in the knowledge base (its code name as small print), an intent no
longer in the knowledge base (a topic removed since) by its code name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from callbot.conversation.call_events import CallOutcome, LineEventKind
from callbot.conversation.model import TransferReason, TurnAction
from callbot.kb.model import KnowledgeBase
from callbot.nlu.intents import NLU_FALLBACK, OUT_OF_SCOPE

#: The outcome of a call the log has not closed yet (its ``outcome`` column is NULL).
IN_PROGRESS = "in_progress"

OUTCOMES: dict[str, str] = {
    CallOutcome.RESOLVED: "réglé par le robot",
    CallOutcome.TRANSFERRED: "transféré à un agent",
    CallOutcome.TRANSFER_FAILED: "transfert échoué",
    CallOutcome.ABANDONED: "raccroché",
    CallOutcome.ERROR: "erreur",
    IN_PROGRESS: "en cours",
}

ACTIONS: dict[str, str] = {
    TurnAction.ANSWER: "réponse",
    TurnAction.CLARIFY: "demande de précision",
    TurnAction.TRANSFER: "transfert",
    TurnAction.HANGUP: "fin de l'appel",
    TurnAction.REPROMPT: "relance",
}

TRANSFER_REASONS: dict[str, str] = {
    TransferReason.CALLER_ASKED: "l'appelant a demandé une personne",
    TransferReason.DTMF_ZERO: "l'appelant a tapé 0",
    TransferReason.NOT_UNDERSTOOD: "pas compris deux fois",
    TransferReason.OUT_OF_SCOPE: "hors des compétences de la mairie",
    TransferReason.TIME_LIMIT: "appel trop long",
    TransferReason.FAILURE: "panne",
    TransferReason.SHUTDOWN: "arrêt du robot",
}

LINE_EVENTS: dict[str, str] = {
    LineEventKind.BARGE_IN: "l'appelant coupe la parole",
    LineEventKind.DTMF: "touche",
    LineEventKind.SILENCE: "silence",
    LineEventKind.ERROR: "erreur",
}

#: What the caller did when no topic was asked: the NLU's dialogue intents.
DIALOGUE: dict[str, str] = {
    "greet": "bonjour",
    "goodbye": "au revoir",
    "thanks": "merci",
    "affirm": "oui",
    "deny": "non",
    "request_human": "demande une personne",
    "repeat": "fait répéter",
    OUT_OF_SCOPE: "hors sujet",
    NLU_FALLBACK: "rien de sûr",
}


def _said(words: Mapping[str, str], value: str | None) -> str:
    return "" if value is None else words.get(value, value)


@dataclass(frozen=True)
class Wording:
    """What the templates call: ``words.outcome(call.outcome)``, ``words.topic(t.intent)``."""

    titles: Mapping[str, str] = field(default_factory=dict)  # topic id → title

    @classmethod
    def of(cls, kb: KnowledgeBase | None) -> Wording:
        """Titles from the knowledge base's labels ("la déclaration de naissance"), with a
        capital: a title stands alone in a table cell."""
        if kb is None:
            return cls()
        return cls({t.id: t.label[:1].upper() + t.label[1:] for t in kb.topics.values()})

    def known(self, intent: str | None) -> bool:
        """Whether the intent has a French name (its code name is then small print)."""
        return intent in self.titles or intent in DIALOGUE

    def topic(self, intent: str | None) -> str:
        if intent is None:
            return ""
        return self.titles.get(intent) or DIALOGUE.get(intent, intent)

    def topics(self, intents: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
        """(id, title) of these intents, in the order of their titles (a menu)."""
        return sorted(((i, self.topic(i)) for i in intents), key=lambda pair: pair[1].lower())

    def outcome(self, value: str | None) -> str:
        return OUTCOMES[IN_PROGRESS] if value is None else _said(OUTCOMES, value)

    def action(self, value: str | None) -> str:
        return _said(ACTIONS, value)

    def reason(self, value: str | None) -> str:
        """A transfer reason; a failure names its part ("failure:stt" → "panne (stt)")."""
        if value is None:
            return ""
        reason, _, part = value.partition(":")
        said = _said(TRANSFER_REASONS, reason)
        return f"{said} ({part})" if part else said

    def event(self, kind: str | None) -> str:
        return _said(LINE_EVENTS, kind)
