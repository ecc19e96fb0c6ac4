"""The parse result, in Rasa's shape, shared by every NLU backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IntentScore:
    name: str
    confidence: float


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int
    text: str
    extractor: str = "callbot"

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "text": self.text,
            "extractor": self.extractor,
        }


@dataclass(frozen=True)
class ParseResult:
    """What one utterance means; ``to_dict`` is exactly Rasa's ``/model/parse`` body."""

    text: str
    intent: IntentScore
    entities: tuple[Entity, ...] = ()
    intent_ranking: tuple[IntentScore, ...] = field(default=())

    def entity_value(self, name: str) -> str | None:
        return next((e.value for e in self.entities if e.entity == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": {"name": self.intent.name, "confidence": round(self.intent.confidence, 4)},
            "entities": [e.to_dict() for e in self.entities],
            "intent_ranking": [
                {"name": s.name, "confidence": round(s.confidence, 4)} for s in self.intent_ranking
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParseResult:
        """Read a Rasa parse body (from a Rasa server or our own JSON output)."""
        intent = data.get("intent") or {}
        return cls(
            text=str(data.get("text", "")),
            intent=IntentScore(str(intent.get("name", "")), float(intent.get("confidence", 0))),
            entities=tuple(
                Entity(
                    entity=str(e["entity"]),
                    value=str(e.get("value", "")),
                    start=int(e.get("start", 0)),
                    end=int(e.get("end", 0)),
                    text=str(e.get("text", e.get("value", ""))),
                    extractor=str(e.get("extractor", "")),
                )
                for e in data.get("entities", [])
            ),
            intent_ranking=tuple(
                IntentScore(str(r["name"]), float(r["confidence"]))
                for r in data.get("intent_ranking", [])
            ),
        )
