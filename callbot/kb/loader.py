"""Load and validate the knowledge base YAML (``nlu_data/kb.yml``).

Validation reports every problem with file, line and a plain message; a knowledge base
with any error is refused as a whole, so the bot never speaks from half a file.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path

from callbot.kb.hours import parse_hours
from callbot.kb.model import WEEKDAYS_FR, Closure, KnowledgeBase, Service, Topic
from callbot.kb.slots import SLOT_PATTERN, check_slot
from callbot.kb.speakable import unspeakable
from callbot.nlu.intents import TOPIC_INTENTS
from callbot.problems import DataError, Problem
from callbot.yaml_lines import LineDict, load_yaml

MAX_FIRST_SENTENCE_WORDS = 30
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


class _Reader:
    """Collects problems while turning the YAML mapping into model values."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.problems: list[Problem] = []

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
        )

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
        answer = self.spoken_text(block, "answer", where)
        words = len(first_sentence(SLOT_PATTERN.sub("x", answer)).split())
        if words > MAX_FIRST_SENTENCE_WORDS:
            self.error(block.line_of("answer"), f"{where}: the first sentence has {words} words; "
                       f"keep it to {MAX_FIRST_SENTENCE_WORDS} for the phone")
        details = self.spoken_text(block, "details", where, required=False)
        for key in ("answer", "details"):
            for slot in SLOT_PATTERN.finditer(str(block.get(key) or "")):
                problem = check_slot(slot, services, self.waste_kinds)
                if problem:
                    self.error(block.line_of(key), f"{where}: {problem}")
        keywords = self.items(block, "keywords", where)
        return Topic(topic_id, service, answer, details, self.spoken_text(block, "label", where),
                     tuple(str(k) for k in keywords))

    waste_kinds: set[str] = set()


def load_knowledge_base(path: Path, text: str | None = None) -> KnowledgeBase:
    """Read and validate; raise ``DataError`` with every problem found."""
    reader = _Reader(path)
    raw = text if text is not None else _read(path)
    document = load_yaml(path, raw)
    if not isinstance(document, LineDict):
        raise DataError([Problem(str(path), 1, "expected a mapping with town, services, topics")])
    for key, line in document.duplicate_keys:
        reader.error(line, f"'{key}' is defined twice; the second would silently win")
    town = document.get("town") if isinstance(document.get("town"), LineDict) else LineDict()
    services_block = document.get("services")
    topics_block = document.get("topics")
    if not isinstance(services_block, LineDict) or not services_block:
        raise DataError([Problem(str(path), 1, "'services:' mapping is missing or empty")])
    if not isinstance(topics_block, LineDict):
        raise DataError([Problem(str(path), 1, "'topics:' mapping is missing")])
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
    for block in (services_block, topics_block):
        for key, line in block.duplicate_keys:
            reader.error(line, f"'{key}' is defined twice; the second would silently win")
    services = {sid: s for sid, b in services_block.items()
                if (s := reader.service(str(sid), b)) is not None}
    topics = {}
    for topic_id, block in topics_block.items():
        if topic_id not in TOPIC_INTENTS:
            reader.error(topics_block.line_of(topic_id),
                         f"topic '{topic_id}' is not a topic intent of the NLU: nobody could reach it")
        topic = reader.topic(str(topic_id), block, set(services))
        if topic:
            topics[str(topic_id)] = topic
    for intent in TOPIC_INTENTS:
        if intent not in topics_block:
            reader.error(topics_block.line, f"topic intent '{intent}' has no answer")
    switchboard = str(town.get("switchboard", "mairie"))
    if switchboard not in services:
        reader.error(town.line_of("switchboard"), f"switchboard service '{switchboard}' is unknown")
    if reader.problems:
        raise DataError(reader.problems)
    return KnowledgeBase(
        town=str(town.get("name", "la commune")),
        switchboard=switchboard,
        services=services,
        topics=topics,
        waste=waste,
        revision=hashlib.sha256(raw.encode()).hexdigest()[:12],
    )


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError([Problem(str(path), 1, "not UTF-8 text")]) from exc
    except OSError as exc:
        raise DataError([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from exc
