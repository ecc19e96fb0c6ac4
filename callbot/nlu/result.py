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
class TopicMatch:
    """A knowledge-base topic the retriever found, and the entry of it that matched best."""

    topic: str
    entry: str | None  # None: the topic's main answer
    score: float  # similarity of the closest question, 0–1
    confidence: float  # calibrated probability that the topic is the right one

    @property
    def key(self) -> str:
        """Rasa's ``intent_response_key`` shape: ``topic`` or ``topic/entry``."""
        return f"{self.topic}/{self.entry}" if self.entry else self.topic

    def to_dict(self) -> dict[str, Any]:
        return {"intent_response_key": self.key, "confidence": round(self.confidence, 4),
                "score": round(self.score, 4)}


@dataclass(frozen=True)
class ParseResult:
    """What one utterance means; ``to_dict`` is exactly Rasa's ``/model/parse`` body."""

    text: str
    intent: IntentScore
    entities: tuple[Entity, ...] = ()
    intent_ranking: tuple[IntentScore, ...] = field(default=())
    #: Topics the retriever ranked, best first (Rasa's ``response_selector`` in the JSON).
    knowledge: tuple[TopicMatch, ...] = field(default=())

    @property
    def entry(self) -> str | None:
        """The knowledge-base entry that matched, when the intent is the retriever's topic."""
        best = self.knowledge[0] if self.knowledge else None
        return best.entry if best and best.topic == self.intent.name else None

    def entity_value(self, name: str) -> str | None:
        return next((e.value for e in self.entities if e.entity == name), None)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "text": self.text,
            "intent": {"name": self.intent.name, "confidence": round(self.intent.confidence, 4)},
            "entities": [e.to_dict() for e in self.entities],
            "intent_ranking": [
                {"name": s.name, "confidence": round(s.confidence, 4)} for s in self.intent_ranking
            ],
        }
        if self.knowledge:
            body["response_selector"] = {"knowledge": {
                "response": self.knowledge[0].to_dict(),
                "ranking": [m.to_dict() for m in self.knowledge]}}
        return body

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
            knowledge=tuple(_topic_match(r) for r in ((data.get("response_selector") or {})
                                                      .get("knowledge") or {}).get("ranking", [])),
        )


def _topic_match(row: dict[str, Any]) -> TopicMatch:
    topic, _, entry = str(row.get("intent_response_key", "")).partition("/")
    return TopicMatch(topic, entry or None, float(row.get("score", 0)),
                      float(row.get("confidence", 0)))
