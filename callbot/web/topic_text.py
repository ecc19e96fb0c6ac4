"""Topics created in the editor (``topics/editor.yml``) and new questions for topic files.

``editor.yml`` belongs to the editor: it is read as data and regenerated whole, so two
saves never merge by hand. Other topic files are the town's: new questions are added
to a topic's ``questions:`` list as lines of text, leaving the rest of the file alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import yaml

from callbot.web.kb_text import (
    blank_or_comment,
    find_block,
    key_line_of,
    list_end,
    mapping_end,
    quoted,
)

MAX_QUESTION_CHARS = 200
MAX_ID_CHARS = 40
#: Paths under /editor/ that a topic id must not take.
RESERVED_IDS = frozenset({"new", "services", "revisions", "examples", "questions"})
_ARTICLES = frozenset({"le", "la", "les", "l", "un", "une", "des", "du", "de", "d", "au", "aux"})
_HEADER = ("# Topics created in the FAQ editor (callbot web): edited there, this file is\n"
           "# regenerated whole on every save. See README.md beside it for the format.\n")


@dataclass(frozen=True)
class TopicDraft:
    """What the create form gives: one new topic of ``editor.yml``."""

    label: str
    service: str
    answer: str
    details: str
    questions: tuple[str, ...]


def clean_questions(lines: list[str]) -> list[str]:
    """One question a line, spaces folded, list dashes dropped, duplicates removed."""
    cleaned: list[str] = []
    for line in lines:
        text = " ".join(line.replace("\r", " ").split()).removeprefix("- ").strip()
        if text and text[:MAX_QUESTION_CHARS] not in cleaned:
            cleaned.append(text[:MAX_QUESTION_CHARS])
    return cleaned


def read_editor_topics(text: str) -> dict[str, dict]:
    """Topic id → its mapping, as the file holds it (empty text: none)."""
    document = yaml.safe_load(text) if text.strip() else None
    topics = (document or {}).get("topics") or {}
    return {str(k): dict(v) for k, v in topics.items()} if isinstance(topics, dict) else {}


def write_editor_topics(topics: dict[str, dict]) -> str:
    if not topics:
        return _HEADER + "topics: {}\n"
    body = yaml.safe_dump({"topics": topics}, allow_unicode=True, sort_keys=False,
                          width=10_000, default_flow_style=False)
    return _HEADER + body


def draft_block(draft: TopicDraft) -> dict:
    block = {"label": draft.label.strip(), "service": draft.service.strip(),
             "answer": draft.answer.strip()}
    if draft.details.strip():
        block["details"] = draft.details.strip()
    block["questions"] = list(draft.questions)
    return block


def new_topic_id(label: str, taken: Collection[str]) -> str:
    """A snake_case id from the title, without articles, unique among ``taken``."""
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    words = [w for w in re.split(r"[^a-z0-9]+", ascii_text.lower()) if w]
    meaningful = [w for w in words if w not in _ARTICLES] or words or ["sujet"]
    base = "_".join(meaningful)[:MAX_ID_CHARS].strip("_")
    if not base[:1].isalpha():
        base = f"sujet_{base}".strip("_")
    candidate, number = base, 2
    while candidate in taken or candidate in RESERVED_IDS:
        candidate, number = f"{base}_{number}", number + 1
    return candidate


def append_questions(path: Path, text: str, topic_id: str, questions: list[str]) -> str:
    """``text`` with ``questions`` added at the end of the topic's ``questions:`` list (a
    block list keeps its comments; a flow list ``[a, b]`` is rewritten as a block list)."""
    block = find_block(path, text, "topics", topic_id)
    lines = text.splitlines()
    topic_indent = " " * (len(lines[block.line - 1]) - len(lines[block.line - 1].lstrip()))
    present = [str(q) for q in block.get("questions") or []]
    new = [q for q in questions if q not in present]
    if not new:
        return text
    if "questions" not in block:
        key_line = key_line_of(lines, block.line - 1, topic_id)
        at = mapping_end(lines, key_line)
        while at > key_line and not lines[at - 1].strip():
            at -= 1
        lines[at:at] = [f"{topic_indent}questions:", *_items(topic_indent + "  ", new)]
        return "\n".join(lines) + "\n"
    key_line = key_line_of(lines, block.line_of("questions"), "questions")
    value = lines[key_line - 1].split(":", 1)[1].strip()
    if value and not value.startswith("#"):  # a flow list on the key's line
        end = mapping_end(lines, key_line)
        lines[key_line - 1:end] = [f"{topic_indent}questions:",
                                   *_items(topic_indent + "  ", [*present, *new])]
        return "\n".join(lines) + "\n"
    end = list_end(lines, key_line)
    while end > key_line and blank_or_comment(lines[end - 1]):
        end -= 1
    item = lines[key_line] if end > key_line else f"{topic_indent}  - x"
    item_indent = item[:len(item) - len(item.lstrip())]
    lines[end:end] = _items(item_indent, new)
    return "\n".join(lines) + "\n"


def _items(indent: str, questions: list[str]) -> list[str]:
    return [f"{indent}- {quoted(q)}" for q in questions]
