"""A topic file (``nlu_data/topics/*.yml``) being built, and its YAML text with a line map.

Each question, answer and service remembers the ``source`` it came from (a spreadsheet line,
an annuaire record number), so that a problem the loader finds at a line of the generated
text can be traced back to the rows that caused it. Scalars are written with ``json.dumps``:
a JSON string is a valid YAML double-quoted scalar, whatever quotes or colons it holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from callbot.kb.model import WEEKDAYS_FR


@dataclass(frozen=True)
class Question:
    text: str
    source: int


@dataclass
class EntryDraft:
    id: str
    answer: str
    details: str = ""
    questions: list[Question] = field(default_factory=list)
    sources: set[int] = field(default_factory=set)


@dataclass
class TopicDraft:
    id: str
    label: str
    service: str
    answer: str
    details: str = ""
    kind: str = "answer"
    day_hours: bool = False
    questions: list[Question] = field(default_factory=list)
    entries: list[EntryDraft] = field(default_factory=list)
    sources: set[int] = field(default_factory=set)  # what the topic's own fields came from

    @property
    def all_sources(self) -> set[int]:
        return self.sources | {q.source for q in self.questions} | {
            s for e in self.entries for s in e.sources | {q.source for q in e.questions}}


@dataclass
class ServiceDraft:
    id: str
    name: str
    address: str
    phone: str
    hours: dict[str, str]  # weekday → "8h30-12h, 13h30-17h30" or "fermé"
    source: int
    access: str = ""


@dataclass
class TopicFile:
    header: str  # comment lines at the top, without '#'
    services: list[ServiceDraft] = field(default_factory=list)
    topics: list[TopicDraft] = field(default_factory=list)


@dataclass
class Rendered:
    text: str
    sources_at: dict[int, set[int]]  # 1-based line → the sources written there

    def sources_of(self, line: int) -> set[int]:
        return self.sources_at.get(line, set())


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sources_at: dict[int, set[int]] = {}

    def add(self, line: str, sources: set[int] | None = None) -> None:
        self.lines.append(line)
        if sources:
            self.sources_at[len(self.lines)] = set(sources)


def render(document: TopicFile) -> Rendered:
    out = _Writer()
    for comment in document.header.splitlines():
        out.add(f"# {comment}".rstrip())
    if document.services:
        out.add("services:")
        for service in document.services:
            here = {service.source}
            out.add(f"  {_q(service.id)}:", here)
            out.add(f"    name: {_q(service.name)}", here)
            out.add(f"    address: {_q(service.address)}", here)
            out.add(f"    phone: {_q(service.phone)}", here)
            out.add("    hours:", here)
            for day in WEEKDAYS_FR:
                out.add(f"      {day}: {_q(service.hours.get(day, 'fermé'))}", here)
            if service.access:
                out.add(f"    access: {_q(service.access)}", here)
    out.add("topics:" if document.topics else "topics: {}")
    for topic in document.topics:
        _render_topic(out, topic)
    return Rendered("\n".join(out.lines) + "\n", out.sources_at)


def _render_topic(out: _Writer, topic: TopicDraft) -> None:
    everything, own = topic.all_sources, topic.sources
    out.add(f"  {_q(topic.id)}:", everything)
    out.add(f"    label: {_q(topic.label)}", everything)
    out.add(f"    service: {_q(topic.service)}", everything)
    if topic.kind != "answer":
        out.add(f"    kind: {_q(topic.kind)}", everything)
    if topic.day_hours:
        out.add("    day_hours: true", everything)
    out.add(f"    answer: {_q(topic.answer)}", own)
    if topic.details:
        out.add(f"    details: {_q(topic.details)}", own)
    out.add("    questions:" if topic.questions else "    questions: []", everything)
    for question in topic.questions:
        out.add(f"      - {_q(question.text)}", {question.source})
    if not topic.entries:
        return
    out.add("    entries:", everything)
    for entry in topic.entries:
        mine = entry.sources | {q.source for q in entry.questions}
        out.add(f"      - id: {_q(entry.id)}", mine)
        out.add("        questions:", mine)
        for question in entry.questions:
            out.add(f"          - {_q(question.text)}", {question.source})
        out.add(f"        answer: {_q(entry.answer)}", mine)
        if entry.details:
            out.add(f"        details: {_q(entry.details)}", mine)
