"""Entity extraction from the data itself: lookups, synonyms, annotated examples, regexes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from callbot.nlu.result import Entity
from callbot.nlu.text import fold
from callbot.nlu.training_data import TrainingData

_EXTRACTOR = "callbot.lookup"


@dataclass(frozen=True)
class _Surface:
    entity: str
    value: str
    pattern: re.Pattern[str]


def _word_pattern(surface: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(fold(surface)) + r"(?!\w)")


class EntityExtractor:
    """Finds the longest known surface forms in folded text; offsets refer to the input."""

    def __init__(self, data: TrainingData) -> None:
        synonyms = {fold(k): v for k, v in data.synonyms.items()}
        value_entity: dict[str, str] = {}
        pairs: dict[tuple[str, str], str] = {}  # (entity, folded surface) → value
        for example in data.examples:
            for span in example.entities:
                surface = fold(example.text[span.start : span.end])
                pairs[(span.entity, surface)] = span.value
                value_entity.setdefault(span.value, span.entity)
        for entity, surfaces in data.lookups.items():
            for surface in surfaces:
                value = synonyms.get(fold(surface), surface)
                pairs.setdefault((entity, fold(surface)), value)
                value_entity.setdefault(value, entity)
        for surface, value in synonyms.items():
            entity = value_entity.get(value)
            if entity:
                pairs.setdefault((entity, surface), value)
        ordered = sorted(pairs.items(), key=lambda item: -len(item[0][1]))
        self._surfaces = [
            _Surface(entity, value, _word_pattern(surface))
            for (entity, surface), value in ordered
            if surface.strip()
        ]
        self._regexes = [
            (name, re.compile(pattern, re.IGNORECASE))
            for name, patterns in data.regexes.items()
            for pattern in patterns
        ]

    def extract(self, text: str) -> tuple[Entity, ...]:
        folded = fold(text)
        taken: list[tuple[int, int]] = []
        found: list[Entity] = []

        def free(start: int, end: int) -> bool:
            return all(end <= s or start >= e for s, e in taken)

        for surface in self._surfaces:
            for match in surface.pattern.finditer(folded):
                if free(match.start(), match.end()):
                    taken.append((match.start(), match.end()))
                    found.append(
                        Entity(surface.entity, surface.value, match.start(), match.end(),
                               text[match.start() : match.end()], _EXTRACTOR)
                    )
        for name, pattern in self._regexes:
            for match in pattern.finditer(text):
                if match.end() > match.start() and free(match.start(), match.end()):
                    taken.append((match.start(), match.end()))
                    found.append(Entity(name, match.group(0), match.start(), match.end(),
                                        match.group(0), "callbot.regex"))
        return tuple(sorted(found, key=lambda e: e.start))
