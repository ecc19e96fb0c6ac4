"""Reader for Rasa 3.x NLU YAML: intents with annotated examples, synonyms, lookups, regexes.

Every problem is reported with file and line; reading goes on so one run lists them all.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from callbot.nlu.intents import ALL_INTENTS
from callbot.problems import DataError, Problem
from callbot.yaml_lines import LineDict, load_yaml

# [text](entity) | [text](entity:value) | [text]{"entity": ..., "value": ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<json>\{[^}]*\}))")
_KINDS = ("intent", "synonym", "lookup", "regex")
#: Files in the data folder that are not NLU data.
NON_NLU_FILES = frozenset({"kb.yml"})
#: The knowledge base's topic files (``nlu_data/topics/``): read by ``callbot.kb.loader``.
NON_NLU_FOLDER = "topics"


@dataclass(frozen=True)
class EntitySpan:
    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...]
    source: str  # "file:line", for messages


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # surface → canonical value
    lookups: dict[str, list[str]] = field(default_factory=dict)  # entity → surfaces
    regexes: dict[str, list[str]] = field(default_factory=dict)  # name → patterns
    warnings: list[Problem] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def by_intent(self) -> dict[str, list[Example]]:
        grouped: dict[str, list[Example]] = {}
        for example in self.examples:
            grouped.setdefault(example.intent, []).append(example)
        return grouped


def parse_example(raw: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Strip Rasa annotations from one example; return plain text and entity spans."""
    text_parts: list[str] = []
    spans: list[EntitySpan] = []
    position = 0
    cursor = 0
    for match in _ANNOTATION.finditer(raw):
        before = raw[cursor : match.start()]
        text_parts.append(before)
        position += len(before)
        surface = match.group("text")
        if match.group("json"):
            try:
                spec = json.loads(match.group("json"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"entity annotation is not valid JSON: {exc.msg}") from exc
            if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
                raise ValueError('entity annotation needs {"entity": "name", ...}')
            entity, value = spec["entity"], str(spec.get("value", surface))
        else:
            entity, _, value = match.group("short").partition(":")
            value = value or surface
        spans.append(EntitySpan(entity.strip(), value.strip(), position, position + len(surface)))
        text_parts.append(surface)
        position += len(surface)
        cursor = match.end()
    text_parts.append(raw[cursor:])
    return "".join(text_parts), tuple(spans)


def _example_lines(block: str) -> list[tuple[int, str]]:
    """``- text`` lines of an ``examples: |`` block, with their offset inside the block."""
    lines = []
    for offset, line in enumerate(block.splitlines(), start=1):
        stripped = line.strip()
        if stripped:
            lines.append((offset, stripped[2:].strip() if stripped.startswith("- ") else stripped))
    return lines


def _read_item(item: object, path: str, data: TrainingData, problems: list[Problem]) -> None:
    if not isinstance(item, LineDict):
        problems.append(Problem(path, 0, "each nlu: entry must be a mapping"))
        return
    kinds = [k for k in _KINDS if k in item]
    if len(kinds) != 1:
        problems.append(
            Problem(path, item.line, "an nlu: entry needs exactly one of intent/synonym/lookup/regex")
        )
        return
    kind = kinds[0]
    name = str(item[kind]).strip()
    block = item.get("examples")
    if not isinstance(block, str) or not block.strip():
        problems.append(Problem(path, item.line, f"{kind} '{name}' has no examples: it is ignored"))
        return
    first_line = item.line_of("examples")
    for offset, text in _example_lines(block):
        where = f"{path}:{first_line + offset}"
        if kind == "intent":
            try:
                plain, spans = parse_example(text)
            except ValueError as exc:
                problems.append(Problem(path, first_line + offset, str(exc)))
                continue
            data.examples.append(Example(plain, name, spans, where))
            for span in spans:
                surface = plain[span.start : span.end]
                if span.value != surface:
                    data.synonyms.setdefault(surface.lower(), span.value)
        elif kind == "synonym":
            data.synonyms[text.lower()] = name
        elif kind == "lookup":
            data.lookups.setdefault(name, []).append(text)
        else:
            try:
                re.compile(text)
            except (re.error, OverflowError, RecursionError) as exc:  # e.g. x{99999999999}
                problems.append(Problem(path, first_line + offset, f"bad regex: {exc}"))
                continue
            data.regexes.setdefault(name, []).append(text)


def nlu_files(data_dir: Path) -> list[Path]:
    """The NLU YAML files of a data folder, in a stable order."""
    if data_dir.is_file():
        return [data_dir]
    files = [p for p in sorted(data_dir.rglob("*.yml")) + sorted(data_dir.rglob("*.yaml"))
             if p.name not in NON_NLU_FILES and NON_NLU_FOLDER not in p.relative_to(data_dir).parts]
    return files


def load_training_data(data_dir: Path, known_intents: tuple[str, ...] = ALL_INTENTS) -> TrainingData:
    """Read every NLU file; raise ``DataError`` listing all blocking problems."""
    files = nlu_files(data_dir)
    if not files:
        raise DataError([Problem(str(data_dir), 0, "no NLU YAML files found")])
    data = TrainingData()
    problems: list[Problem] = []
    digest = hashlib.sha256()
    for path in files:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        try:
            document = load_yaml(path, raw.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(Problem(str(path), 1, "not UTF-8 text"))
            continue
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        if not isinstance(document, dict) or not isinstance(document.get("nlu"), list):
            problems.append(Problem(str(path), 1, "expected a top-level 'nlu:' list"))
            continue
        for item in document["nlu"]:
            _read_item(item, str(path), data, problems)
    for intent in data.intents:
        if intent not in known_intents:
            first = next(e for e in data.examples if e.intent == intent)
            file, _, line = first.source.rpartition(":")
            data.warnings.append(
                Problem(file, int(line), f"intent '{intent}' is not in the contract", "warning")
            )
    if problems:
        raise DataError(problems)
    data.fingerprint = digest.hexdigest()
    return data
