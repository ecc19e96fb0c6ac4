"""FAQ spreadsheet rows → a topic file.

Columns (matched without case or accents, French names too): ``question``, ``answer`` /
``réponse``, ``service``, and optionally ``topic`` / ``thème``, ``label`` / ``libellé``,
``details`` / ``détails``, ``entry`` / ``point`` and ``kind`` / ``type``. Rows with the same
topic, or without one but with the same answer, make one topic with several questions; a
different answer under one topic (or a ``point``) makes an entry. A cell may hold several
questions, one per line. Every row that cannot be used is named with its line and the reason;
the rest is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from callbot.kb.loader import (
    MAX_FIRST_SENTENCE_WORDS,
    MIN_ENTRY_QUESTIONS,
    MIN_TOPIC_QUESTIONS,
    first_sentence,
)
from callbot.kb.model import TopicKind
from callbot.kb.slots import SLOT_PATTERN, check_slot
from callbot.kb.speakable import unspeakable
from callbot.kb.town_data.checking import Context
from callbot.kb.town_data.names import folded_key, make_id, strip_article, unique_id
from callbot.kb.town_data.sheets import Table
from callbot.kb.town_data.sheets import header_map as sheet_header_map
from callbot.kb.town_data.topic_file import EntryDraft, Question, TopicDraft, TopicFile
from callbot.nlu.text import features_text

#: Column → the header names that mean it (compared with ``folded_key``).
COLUMNS: dict[str, tuple[str, ...]] = {
    "question": ("question", "questions", "question posee"),
    "answer": ("answer", "reponse", "reponses"),
    "service": ("service", "service concerne"),
    "topic": ("topic", "theme", "sujet", "rubrique"),
    "label": ("label", "libelle", "intitule"),
    "details": ("details", "detail", "precisions"),
    "entry": ("entry", "point"),
    "kind": ("kind", "type"),
}
REQUIRED = ("question", "answer", "service")
KINDS = {"": TopicKind.ANSWER, "answer": TopicKind.ANSWER, "reponse": TopicKind.ANSWER,
         "redirect": TopicKind.REDIRECT, "redirection": TopicKind.REDIRECT,
         "orientation": TopicKind.REDIRECT}
ENTRY_ID_WORDS = 4
TOPIC_ID_WORDS = 5


@dataclass(frozen=True)
class FaqRow:
    line: int
    questions: tuple[str, ...]
    answer: str
    service: str  # the cell as written
    topic: str = ""
    label: str = ""
    details: str = ""
    entry: str = ""
    kind: str = ""


def header_map(table: Table) -> tuple[int, dict[str, int]]:
    """(header line, column → index); raises ``SheetError`` if a required column is missing."""
    return sheet_header_map(table, COLUMNS, REQUIRED, "question, réponse, service, and "
                            "optionally thème, libellé, détails, point, type")


def faq_rows(table: Table) -> list[FaqRow]:
    header_line, columns = header_map(table)
    rows = []
    for line, cells in table.rows:
        if line <= header_line or not any(cells):
            continue

        def cell(column: str, cells: list[str] = cells) -> str:
            index = columns.get(column)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        questions = tuple(" ".join(q.split()) for q in cell("question").split("\n") if q.strip())
        rows.append(FaqRow(line, questions, " ".join(cell("answer").split()), cell("service"),
                           cell("topic"), " ".join(cell("label").split()),
                           " ".join(cell("details").split()), cell("entry"), cell("kind")))
    return rows


def _spoken_problem(what: str, text: str, ctx: Context) -> str | None:
    reason = unspeakable(SLOT_PATTERN.sub("", text)) if text else None
    if reason:
        return f"{what} cannot be spoken: {reason}"
    for slot in SLOT_PATTERN.finditer(text):
        problem = check_slot(slot, set(ctx.kb.services), set(ctx.kb.waste))
        if problem:
            return f"{what}: {problem}"
    return None


@dataclass
class FaqImport:
    ctx: Context
    rows: list[FaqRow]
    rejected: dict[int, str] = field(default_factory=dict)
    services: dict[int, str] = field(default_factory=dict)  # line → service id

    def service_id(self, written: str) -> str | None:
        key = folded_key(written)
        for sid, service in self.ctx.kb.services.items():
            if key in (folded_key(sid), folded_key(service.name), folded_key(strip_article(service.name))):
                return sid
        return None

    def check_rows(self) -> None:
        """The checks that need only the row itself, then duplicate questions."""
        asked: dict[str, int] = {}
        for row in self.rows:
            reason = self.row_problem(row)
            if reason is None:
                reason = self.duplicate(row, asked)
            if reason:
                self.rejected[row.line] = reason
                continue
            for question in row.questions:
                asked[features_text(question)] = row.line

    def row_problem(self, row: FaqRow) -> str | None:
        if not row.questions:
            return "empty question"
        if not row.answer:
            return "empty answer"
        if row.service:
            sid = self.service_id(row.service)
            if sid is None:
                known = ", ".join(sorted(self.ctx.kb.services))
                return f"unknown service '{row.service}' (known: {known})"
            self.services[row.line] = sid
        if folded_key(row.kind) not in KINDS:
            return f"unknown type '{row.kind}' (answer or redirect)"
        words = len(first_sentence(SLOT_PATTERN.sub("x", row.answer)).split())
        if words > MAX_FIRST_SENTENCE_WORDS:
            return (f"the answer's first sentence has {words} words; keep it to "
                    f"{MAX_FIRST_SENTENCE_WORDS} for the phone")
        return (_spoken_problem("the answer", row.answer, self.ctx)
                or _spoken_problem("the details", row.details, self.ctx)
                or _spoken_problem("the label", row.label, self.ctx))

    def duplicate(self, row: FaqRow, asked: dict[str, int]) -> str | None:
        for question in row.questions:
            key = features_text(question)
            if key in asked:
                return f"duplicate question: \"{question}\" is already on line {asked[key]}"
            if key in self.ctx.asked:
                topic = self.ctx.asked[key]
                return (f"duplicate question: \"{question}\" is already asked under '{topic}' in "
                        f"{self.ctx.where(topic.split('/')[0])}")
        return None

    def build(self, header: str) -> Callable[[dict[int, str]], TopicFile]:
        def document(rejected: dict[int, str]) -> TopicFile:
            while True:
                topics, more = self.topics(rejected)
                if not more:
                    return TopicFile(header, [], topics)
                rejected.update(more)
        return document

    def groups(self, rejected: dict[int, str]) -> dict[str, list[FaqRow]]:
        """Rows by topic key: the topic cell, else the topic already holding that answer."""
        groups: dict[str, list[FaqRow]] = {}
        by_answer: dict[str, str] = {}
        for row in self.rows:
            if row.line in rejected:
                continue
            answer = features_text(row.answer)
            key = (make_id(row.topic) or f"?{row.topic}") if row.topic else by_answer.get(answer)
            if key is None:
                key = f"~{row.line}"
            by_answer.setdefault(answer, key)
            groups.setdefault(key, []).append(row)
        return groups

    def topics(self, rejected: dict[int, str]) -> tuple[list[TopicDraft], dict[int, str]]:
        more: dict[int, str] = {}
        taken = set(self.ctx.kb.topics)
        topics = []
        for key, rows in self.groups(rejected).items():
            topic, problems = self.topic(key, rows, taken)
            more.update(problems)
            if topic is not None and not problems:
                topics.append(topic)
        return topics, more

    def topic(self, key: str, rows: list[FaqRow],
              taken: set[str]) -> tuple[TopicDraft | None, dict[int, str]]:
        def all_rows(reason: str) -> tuple[None, dict[int, str]]:
            return None, {r.line: reason for r in rows}

        first = rows[0]
        label = next((r.label for r in rows if r.label), "") or first.topic or first.questions[0]
        wanted = key if not key.startswith(("~", "?")) else make_id(strip_article(label), TOPIC_ID_WORDS)
        if not wanted:
            return all_rows(f"topic '{first.topic}' gives no usable id (use letters)")
        if wanted in self.ctx.kb.topics:
            return all_rows(f"topic '{wanted}' is already defined in {self.ctx.where(wanted)}")
        services = {self.services[r.line] for r in rows if r.line in self.services}
        if not services:
            return all_rows(f"no service given for topic '{wanted}' (write it in the service column)")
        service = self.services.get(first.line) or next(
            self.services[r.line] for r in rows if r.line in self.services)
        problems = {r.line: f"service '{self.services[r.line]}' differs from '{service}' given on "
                    f"line {first.line} for the same topic"
                    for r in rows if self.services.get(r.line, service) != service}
        if problems:
            return None, problems
        main = [r for r in rows if not r.entry]
        if not main:
            return all_rows(f"topic '{wanted}' has no row without a point to give its main answer")
        answer = features_text(main[0].answer)
        main_rows = [r for r in main if features_text(r.answer) == answer]
        topic_id = unique_id(wanted, taken)
        topic = TopicDraft(topic_id, label, service, main_rows[0].answer,
                           next((r.details for r in main_rows if r.details), ""),
                           KINDS[folded_key(next((r.kind for r in rows if r.kind), ""))],
                           questions=[Question(q, r.line) for r in main_rows for q in r.questions],
                           sources={r.line for r in main_rows})
        if len(topic.questions) < MIN_TOPIC_QUESTIONS:
            return all_rows(f"topic '{topic_id}' has {len(topic.questions)} question(s); give at "
                            f"least {MIN_TOPIC_QUESTIONS} ways a caller asks it")
        problems = {}
        for entry in self.entries(topic_id, [r for r in rows if r not in main_rows]):
            if len(entry.questions) < MIN_ENTRY_QUESTIONS:
                problems.update({line: f"entry '{entry.id}' of topic '{topic_id}' has "
                                 f"{len(entry.questions)} question(s); give at least "
                                 f"{MIN_ENTRY_QUESTIONS}" for line in entry.sources})
            topic.entries.append(entry)
        return topic, problems

    @staticmethod
    def entries(topic_id: str, rows: list[FaqRow]) -> list[EntryDraft]:
        entries: dict[str, EntryDraft] = {}
        by_answer: dict[str, str] = {}
        taken: set[str] = set()
        for row in rows:
            answer = features_text(row.answer)
            key = f"={make_id(row.entry)}" if row.entry else by_answer.get(answer, f"~{row.line}")
            by_answer.setdefault(answer, key)
            if key not in entries:
                wanted = make_id(row.entry) if row.entry else make_id(row.questions[0], ENTRY_ID_WORDS)
                entries[key] = EntryDraft(unique_id(wanted or "point", taken), row.answer, row.details)
            entry = entries[key]
            entry.details = entry.details or row.details
            entry.sources.add(row.line)
            entry.questions += [Question(q, row.line) for q in row.questions]
        return list(entries.values())
