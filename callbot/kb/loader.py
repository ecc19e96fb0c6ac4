"""Load and validate the knowledge base YAML (``nlu_data/kb.yml``).

Validation reports every problem with file, line and a plain message; a knowledge base
with any error is refused as a whole, so the bot never speaks from half a file.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from callbot.kb.hours import parse_hours
from callbot.kb.model import (
    WEEKDAYS_FR,
    Appointments,
    Closure,
    Entry,
    KnowledgeBase,
    Service,
    Topic,
    TopicKind,
)
from callbot.kb.slots import SLOT_PATTERN, check_slot
from callbot.kb.speakable import unspeakable
from callbot.nlu.intents import TOPIC_INTENTS
from callbot.nlu.text import features_text
from callbot.problems import DataError, Problem
from callbot.yaml_lines import LineDict, load_yaml

MAX_FIRST_SENTENCE_WORDS = 30
MIN_TOPIC_QUESTIONS = 3
MIN_ENTRY_QUESTIONS = 2
MIN_SLOT_MINUTES, MAX_SLOT_MINUTES = 5, 240
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LINK_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}", re.IGNORECASE)
#: Topic files beside the main file: ``nlu_data/topics/*.yml`` (see its README).
TOPICS_DIR = "topics"
_HOURS_IN_PROSE = re.compile(r"\b\d{1,2}\s?h(?:\s?\d{2})?\s?(?:-|à)\s?\d{1,2}\s?h", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def is_email(text: str) -> bool:
    """An address a message can be mailed to (``messages_to``)."""
    return bool(_EMAIL.fullmatch(text))


def is_link(url: str) -> bool:
    """A page worth an SMS: ``https://``, a real host name, no space (``link``)."""
    if not url.startswith("https://") or any(c.isspace() for c in url):
        return False
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # "https://[…": a broken IPv6 literal
        return False
    return bool(_LINK_HOST.fullmatch(host))


def first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


class _Reader:
    """Collects problems while turning the YAML mapping into model values."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def text(self, block: LineDict, key: str, required: bool = True) -> str:
        value = block.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(block.line, f"'{key}' is missing")
            return ""
        if not isinstance(value, str | int | float):
            self.error(block.line_of(key), f"'{key}' must be text")
            return ""
        return str(value).strip()

    def items(self, block: LineDict, key: str, where: str) -> list:
        """A list value (absent: empty); anything else is reported and read as empty."""
        value = block.get(key) or []
        if isinstance(value, list):
            return value
        self.error(block.line_of(key), f"{where}: '{key}' must be a list")
        return []

    def spoken_text(self, block: LineDict, key: str, where: str, required: bool = True) -> str:
        value = self.text(block, key, required)
        reason = unspeakable(SLOT_PATTERN.sub("", value)) if value else None
        if reason:
            self.error(block.line_of(key), f"{where}: {key} cannot be spoken: {reason}")
        return value

    def service(self, service_id: str, block: object) -> Service | None:
        if not isinstance(block, LineDict):
            self.error(0, f"service '{service_id}' must be a mapping")
            return None
        hours_block = block.get("hours")
        hours = []
        if not isinstance(hours_block, LineDict):
            self.error(block.line, f"service '{service_id}' has no 'hours' by weekday")
        else:
            for extra in set(hours_block) - set(WEEKDAYS_FR):
                self.error(hours_block.line_of(extra),
                           f"service '{service_id}': '{extra}' is not a weekday (lundi…dimanche)")
            for weekday in WEEKDAYS_FR:
                if weekday not in hours_block:
                    self.error(hours_block.line, f"service '{service_id}': hours for {weekday} "
                               "are missing (write 'fermé' if closed)")
                    hours.append(())
                    continue
                try:
                    hours.append(parse_hours(str(hours_block[weekday])))
                except ValueError as exc:
                    self.error(hours_block.line_of(weekday), f"service '{service_id}', {weekday}: {exc}")
                    hours.append(())
        closures = tuple(c for c in (self.closure(service_id, item)
                                     for item in self.items(block, "closures",
                                                            f"service '{service_id}'")) if c)
        where = f"service '{service_id}'"
        return Service(
            id=service_id,
            name=self.spoken_text(block, "name", where),
            address=self.spoken_text(block, "address", where),
            phone=self.spoken_text(block, "phone", where),
            hours=tuple(hours) if len(hours) == 7 else ((),) * 7,
            closures=closures,
            access=self.spoken_text(block, "access", where, required=False),
            appointments=self.appointments(block, where),
            messages_to=self.email(block, "messages_to", where),
        )

    def appointments(self, block: LineDict, where: str) -> Appointments | None:
        """``appointments: {calendar: etat-civil, slot_minutes: 20}``: booked by phone."""
        item = block.get("appointments")
        if item is None:
            return None
        if not isinstance(item, LineDict) or not self.text(item, "calendar", required=False):
            self.error(block.line_of("appointments"), f"{where}: appointments needs a "
                       "'calendar' (its id in the settings) and may give 'slot_minutes'")
            return None
        minutes = item.get("slot_minutes", 20)
        if type(minutes) is not int or not MIN_SLOT_MINUTES <= minutes <= MAX_SLOT_MINUTES:
            self.error(item.line_of("slot_minutes"), f"{where}: slot_minutes must be a whole "
                       f"number from {MIN_SLOT_MINUTES} to {MAX_SLOT_MINUTES}")
            return None
        return Appointments(self.text(item, "calendar"), minutes)

    def email(self, block: LineDict, key: str, where: str) -> str:
        address = self.text(block, key, required=False)
        if address and not is_email(address):
            self.error(block.line_of(key), f"{where}: {key} '{address}' is not an e-mail address")
            return ""
        return address

    def link(self, block: LineDict, where: str) -> str:
        url = self.text(block, "link", required=False)
        if url and not is_link(url):
            self.error(block.line_of("link"), f"{where}: link must be an https:// address "
                       "without spaces (it is sent by SMS)")
            return ""
        return url

    def closure(self, service_id: str, item: object) -> Closure | None:
        if not isinstance(item, LineDict):
            self.error(0, f"service '{service_id}': each closure must be a mapping")
            return None
        try:
            first = item.get("date") or item["from"]
            last = item.get("date") or item["to"]
            if not isinstance(first, date) or not isinstance(last, date) \
                    or isinstance(first, datetime) or isinstance(last, datetime):
                raise ValueError
        except (KeyError, ValueError):
            self.error(item.line, f"service '{service_id}': a closure needs 'date: YYYY-MM-DD' "
                       "or 'from:' and 'to:' dates")
            return None
        if last < first:
            self.error(item.line, f"service '{service_id}': closure ends before it starts")
            return None
        weekdays = []
        for name in self.items(item, "only", f"service '{service_id}' closure"):
            if name not in WEEKDAYS_FR:
                self.error(item.line_of("only"), f"'{name}' is not a weekday (lundi…dimanche)")
            else:
                weekdays.append(WEEKDAYS_FR.index(name))
        reason = self.spoken_text(item, "reason", f"service '{service_id}' closure", False)
        return Closure(first, last, reason or "fermeture exceptionnelle", frozenset(weekdays))

    def topic(self, topic_id: str, block: object, services: set[str]) -> Topic | None:
        if not isinstance(block, LineDict):
            self.error(0, f"topic '{topic_id}' must be a mapping")
            return None
        where = f"topic '{topic_id}'"
        service = self.text(block, "service")
        if service and service not in services:
            self.error(block.line_of("service"), f"{where}: unknown service '{service}'")
        kind = self.text(block, "kind", required=False) or TopicKind.ANSWER
        if kind not in (TopicKind.ANSWER, TopicKind.REDIRECT):
            self.error(block.line_of("kind"), f"{where}: kind must be 'answer' or 'redirect'")
        answer = self.answer_text(block, "answer", where, services)
        details = self.spoken_text(block, "details", where, required=False)
        self.check_slots(block, "details", where, services)
        self.warn_hours(block, "details", where)
        questions = self.questions(block, where)
        if len(questions) < MIN_TOPIC_QUESTIONS and topic_id not in TOPIC_INTENTS:
            self.error(block.line, f"{where}: give at least {MIN_TOPIC_QUESTIONS} ways a caller "
                       f"asks it under 'questions:' (it has {len(questions)}); nobody could reach it")
        entries = []
        seen: set[str] = set()
        for item in self.items(block, "entries", where):
            entry = self.entry(item, where, services)
            if entry is None:
                continue
            if entry.id in seen:
                self.error(item.line, f"{where}: entry '{entry.id}' is defined twice")
            seen.add(entry.id)
            entries.append(entry)
        keywords = self.items(block, "keywords", where)
        return Topic(topic_id, service, answer, details, self.spoken_text(block, "label", where),
                     tuple(str(k) for k in keywords), questions, tuple(entries), kind,
                     bool(block.get("day_hours", False)), self.file, self.link(block, where))

    def answer_text(self, block: LineDict, key: str, where: str, services: set[str]) -> str:
        """A spoken answer: short first sentence, known slots, hours through slots only."""
        answer = self.spoken_text(block, key, where)
        words = len(first_sentence(SLOT_PATTERN.sub("x", answer)).split())
        if words > MAX_FIRST_SENTENCE_WORDS:
            self.error(block.line_of(key), f"{where}: the first sentence has {words} words; "
                       f"keep it to {MAX_FIRST_SENTENCE_WORDS} for the phone")
        self.check_slots(block, key, where, services)
        self.warn_hours(block, key, where)
        return answer

    def check_slots(self, block: LineDict, key: str, where: str, services: set[str]) -> None:
        for slot in SLOT_PATTERN.finditer(str(block.get(key) or "")):
            problem = check_slot(slot, services, self.waste_kinds)
            if problem:
                self.error(block.line_of(key), f"{where}: {problem}")

    def warn_hours(self, block: LineDict, key: str, where: str) -> None:
        """Hours written in prose go stale when the service's hours change: say so."""
        text = SLOT_PATTERN.sub("", str(block.get(key) or ""))
        if _HOURS_IN_PROSE.search(text):
            self.warnings.append(Problem(self.file, block.line_of(key),
                                         f"{where}: {key} states hours in its text; use "
                                         "{open_now:…} or {hours_today:…} so it follows the "
                                         "service's hours", "warning"))

    def questions(self, block: LineDict, where: str) -> tuple[str, ...]:
        found = []
        for item in self.items(block, "questions", where):
            if not isinstance(item, str | int | float) or not str(item).strip():
                self.error(block.line_of("questions"), f"{where}: each question must be text")
                continue
            found.append(" ".join(str(item).split()))
        return tuple(found)

    def entry(self, item: object, topic_where: str, services: set[str]) -> Entry | None:
        if not isinstance(item, LineDict):
            self.error(0, f"{topic_where}: each entry must be a mapping with id, questions, answer")
            return None
        entry_id = self.text(item, "id")
        where = f"{topic_where}, entry '{entry_id or '?'}'"
        questions = self.questions(item, where)
        if len(questions) < MIN_ENTRY_QUESTIONS:
            self.error(item.line, f"{where}: give at least {MIN_ENTRY_QUESTIONS} questions "
                       f"(it has {len(questions)})")
        answer = self.answer_text(item, "answer", where, services)
        details = self.spoken_text(item, "details", where, required=False)
        if not entry_id:
            return None
        return Entry(entry_id, questions, answer, details)

    waste_kinds: set[str] = set()


def topic_files(path: Path) -> list[Path]:
    """The topic files that go with the main file, in a stable order."""
    folder = path.parent / TOPICS_DIR
    return sorted(folder.glob("*.yml")) if folder.is_dir() else []


def load_knowledge_base(path: Path, text: str | None = None,
                        overrides: dict[Path, str] | None = None) -> KnowledgeBase:
    """Read and validate the main file and its topic files; raise ``DataError`` with every
    problem found. ``text`` stands for the main file, ``overrides`` for topic files (the
    editor validates what it is about to write before writing it)."""
    overrides = dict(overrides or {})
    raw = text if text is not None else _read(path)
    document = load_yaml(path, raw)
    if not isinstance(document, LineDict):
        raise DataError([Problem(str(path), 1, "expected a mapping with town, services, topics")])
    reader = _Reader(path)
    for key, line in document.duplicate_keys:
        reader.error(line, f"'{key}' is defined twice; the second would silently win")
    town = document.get("town") if isinstance(document.get("town"), LineDict) else LineDict()
    services_block = document.get("services")
    topics_block = document.get("topics")
    if not isinstance(services_block, LineDict) or not services_block:
        raise DataError([Problem(str(path), 1, "'services:' mapping is missing or empty")])
    if not isinstance(topics_block, LineDict):
        raise DataError([Problem(str(path), 1, "'topics:' mapping is missing")])
    waste = _waste(reader, document)
    extra_files = sorted(set(topic_files(path)) | set(overrides))
    sources: list[tuple[_Reader, LineDict, LineDict]] = [(reader, services_block, topics_block)]
    digest = hashlib.sha256(raw.encode())
    for extra in extra_files:
        extra_raw = overrides[extra] if extra in overrides else _read(extra)
        digest.update(f"\0{extra.name}\0".encode() + extra_raw.encode())
        extra_reader = _Reader(extra)
        extra_reader.waste_kinds = set(waste)
        block = load_yaml(extra, extra_raw) if extra_raw.strip() else LineDict()
        if not isinstance(block, LineDict):
            extra_reader.error(1, "expected a mapping with 'topics:' (and 'services:' if needed)")
            block = LineDict()
        for key, line in block.duplicate_keys:
            extra_reader.error(line, f"'{key}' is defined twice; the second would silently win")
        unknown = set(block) - {"services", "topics", "version"}
        for key in sorted(unknown):
            extra_reader.error(block.line_of(key), f"'{key}' is not known here "
                               "(a topic file holds 'services:' and 'topics:')")
        extra_services = block.get("services") or LineDict()
        extra_topics = block.get("topics") or LineDict()
        if not isinstance(extra_services, LineDict) or not isinstance(extra_topics, LineDict):
            extra_reader.error(1, "'services:' and 'topics:' must be mappings")
            extra_services, extra_topics = LineDict(), LineDict()
        sources.append((extra_reader, extra_services, extra_topics))
    services: dict[str, Service] = {}
    for source_reader, services_of, _ in sources:
        for key, line in services_of.duplicate_keys:
            source_reader.error(line, f"'{key}' is defined twice; the second would silently win")
        for sid, block in services_of.items():
            if str(sid) in services:
                source_reader.error(services_of.line_of(sid), f"service '{sid}' is already "
                                    "defined in another file")
                continue
            service = source_reader.service(str(sid), block)
            if service is not None:
                services[str(sid)] = service
    topics: dict[str, Topic] = {}
    asked: dict[str, tuple[str, str]] = {}  # folded question → (topic, where it was read)
    for source_reader, _, topics_of in sources:
        source_reader.waste_kinds = set(waste)
        for key, line in topics_of.duplicate_keys:
            source_reader.error(line, f"'{key}' is defined twice; the second would silently win")
        for topic_id, block in topics_of.items():
            if str(topic_id) in topics:
                source_reader.error(topics_of.line_of(topic_id), f"topic '{topic_id}' is already "
                                    f"defined in {topics[str(topic_id)].source}")
                continue
            topic = source_reader.topic(str(topic_id), block, set(services))
            if topic is None:
                continue
            topics[str(topic_id)] = topic
            _check_collisions(source_reader, topic, block, asked)
    for intent in TOPIC_INTENTS:
        if intent not in topics:
            reader.error(topics_block.line, f"topic intent '{intent}' has no answer")
    switchboard = str(town.get("switchboard", "mairie"))
    if switchboard not in services:
        reader.error(town.line_of("switchboard"), f"switchboard service '{switchboard}' is unknown")
    problems = [p for r, _, _ in sources for p in r.problems]
    if problems:
        raise DataError(problems)
    return KnowledgeBase(
        town=str(town.get("name", "la commune")),
        switchboard=switchboard,
        services=services,
        topics=topics,
        waste=waste,
        revision=digest.hexdigest()[:12],
        warnings=tuple(w for r, _, _ in sources for w in r.warnings),
        files=(path, *extra_files),
    )


def _waste(reader: _Reader, document: LineDict) -> dict[str, tuple[int, ...]]:
    waste_block = document.get("waste") or LineDict()
    if not isinstance(waste_block, LineDict):
        reader.error(document.line_of("waste"), "'waste' must map each kind to weekday names")
        waste_block = LineDict()
    waste: dict[str, tuple[int, ...]] = {}
    for kind, days in waste_block.items():
        days = days if isinstance(days, list) else []  # noqa: PLW2901 - reported just below
        bad = [d for d in days if d not in WEEKDAYS_FR]
        if bad or not days:
            reader.error(waste_block.line_of(kind), f"waste '{kind}': days must be weekday names")
        waste[kind] = tuple(WEEKDAYS_FR.index(d) for d in days if d in WEEKDAYS_FR)
    reader.waste_kinds = set(waste)
    return waste


def _check_collisions(reader: _Reader, topic: Topic, block: LineDict,
                      asked: dict[str, tuple[str, str]]) -> None:
    """The same question under two topics (or twice in one) would make the match a coin toss."""
    own = [(q, topic.id) for q in topic.questions]
    own += [(q, f"{topic.id}/{e.id}") for e in topic.entries for q in e.questions]
    for question, where in own:
        key = features_text(question)
        if key in asked:
            reader.error(block.line, f"topic '{topic.id}': the question \"{question}\" is also "
                         f"asked under '{asked[key][0]}'; keep it in one place")
        asked.setdefault(key, (where, reader.file))


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError([Problem(str(path), 1, "not UTF-8 text")]) from exc
    except OSError as exc:
        raise DataError([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from exc
