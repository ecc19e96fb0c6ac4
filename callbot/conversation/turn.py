"""What the bot did in answer to one event: what it says, and whether it hands over or hangs up.

Its own module so the call log's events (``call_events``) and the conversation that emits
them (``session``) can both name it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from callbot.conversation.model import Hangup, Say, Transfer, TurnAction
from callbot.nlu.result import ParseResult


@dataclass(frozen=True)
class BotTurn:
    """What the bot did in answer to one event."""

    caller: str | None
    says: tuple[Say, ...]
    transfer: Transfer | None = None
    hangup: Hangup | None = None
    parse: ParseResult | None = None
    latencies_ms: dict[str, float] = field(default_factory=dict)  # NLU, recognition…

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.says)

    @property
    def action(self) -> TurnAction:
        if self.transfer:
            return TurnAction.TRANSFER
        if self.hangup:
            return TurnAction.HANGUP
        return self.says[-1].action if self.says else TurnAction.REPROMPT

    def to_json(self) -> dict[str, Any]:
        """The line ``callbot chat --script`` prints (the contract), plus the why."""
        why = self.says[-1].why if self.says else None
        return {
            "caller": self.caller,
            "bot": self.text,
            "intent": self.parse.intent.name if self.parse else None,
            "confidence": round(self.parse.intent.confidence, 4) if self.parse else None,
            "action": str(self.action),
            "kb_entry": why.kb_entry if why else None,
            "kb_revision": why.kb_revision if why else None,
            "kb_score": why.score if why else None,
            "runner_up": why.runner_up if why else None,
            "runner_up_confidence": why.runner_up_confidence if why else None,
            "transfer_reason": str(self.transfer.reason) if self.transfer else None,
        }
