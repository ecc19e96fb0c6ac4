"""Editing the knowledge-base and editor-examples files as text, keeping everything else.

A topic's field is replaced on its own lines, so comments and layout of ``kb.yml`` stay
as the town wrote them. Editor examples live in their own Rasa YAML file
(``nlu/editor.yml``), regenerated whole. Files are replaced atomically (temp + rename):
every bot process sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import yaml

from callbot.yaml_lines import LineDict, load_yaml

EDITABLE_FIELDS = ("answer", "details", "label", "link")


def quoted(value: str) -> str:
    return json.dumps(value.strip(), ensure_ascii=False)  # a JSON string is a YAML scalar


def set_topic_fields(path: Path, text: str, topic_id: str, fields: dict[str, str]) -> str:
    """``text`` with the topic's fields replaced (or added after ``answer``; a new ``link``
    after ``service``, a one-line field, whatever layout the answer has; the link is
    written only when it changes, and an empty one removed)."""
    others = {k: v for k, v in fields.items() if k != "link"}
    link = fields.get("link", "").strip()
    present = str(find_block(path, text, "topics", topic_id).get("link") or "").strip()
    if "link" in fields and link != present:
        text = (set_fields(path, text, "topics", topic_id, {"link": link}, after="service")
                if link else replace_key(path, text, "topics", topic_id, "link", []))
    return set_fields(path, text, "topics", topic_id, others)


def find_block(path: Path, text: str, section: str, block_id: str) -> LineDict:
    """The mapping ``section: {block_id: …}`` of the file; ``KeyError`` if it is not there."""
    document = load_yaml(path, text)
    blocks = document.get(section) if isinstance(document, LineDict) else None
    if not isinstance(blocks, LineDict) or not isinstance(blocks.get(block_id), LineDict):
        raise KeyError(f"{section[:-1]} '{block_id}' is not in {path}")
    return blocks[block_id]


def key_line_of(lines: list[str], before: int, key: str) -> int:
    """The line (1-based) of ``key:`` at or above line ``before``."""
    return next(n for n in range(before, 0, -1) if lines[n - 1].strip().startswith(f"{key}:"))


def set_fields(path: Path, text: str, section: str, block_id: str, fields: dict[str, str],
               after: str = "answer") -> str:
    """``text`` with one-line fields of ``section.block_id`` replaced (a new one goes after
    ``after``); every other line, comments included, stays as it was."""
    block = find_block(path, text, section, block_id)
    lines = text.splitlines()
    indent = " " * (len(lines[block.line - 1]) - len(lines[block.line - 1].lstrip()))
    key_line = key_line_of(lines, block.line - 1, str(block_id))
    block_end = mapping_end(lines, key_line)
    for key in sorted(fields, key=lambda k: -block.line_of(k) if k in block else 0):
        new_line = f"{indent}{key}: {quoted(fields[key])}"
        if key in block:
            start = block.line_of(key)
            later = [key_line_of(lines, block.line_of(k), str(k)) for k in block
                     if block.line_of(k) > start]
            end = min(later) - 1 if later else block_end
            while end > start and (not lines[end - 1].strip()
                                   or lines[end - 1].lstrip().startswith("#")):
                end -= 1
            lines[start - 1:end] = [new_line]
        elif fields[key].strip():
            at = block.line_of(after) if after in block else block.line
            lines.insert(at, new_line)
    return "\n".join(lines) + "\n"


def replace_key(path: Path, text: str, section: str, block_id: str, key: str,
                new: list[str]) -> str:
    """``text`` with ``key`` of ``section.block_id``, and all under it, replaced by ``new``
    (lines written as under the block, its indent added); ``[]`` removes the key, a key not
    there is added at the block's end. Comments after the key's lines stay."""
    block = find_block(path, text, section, block_id)
    lines = text.splitlines()
    indent = indent_of(lines[block.line - 1])
    new_lines = [f"{indent}{line}" for line in new]
    if key in block:
        start = key_line_of(lines, block.line_of(key), key)
        end = mapping_end(lines, start)
        while end > start and blank_or_comment(lines[end - 1]):
            end -= 1
        lines[start - 1:end] = new_lines
    else:
        at = block_end(lines, block, block_id)
        lines[at:at] = new_lines
    return "\n".join(lines) + "\n"


def block_end(lines: list[str], block: LineDict, block_id: str) -> int:
    """The last line of the block that is not blank nor a comment."""
    key_line = key_line_of(lines, block.line - 1, block_id)
    end = mapping_end(lines, key_line)
    while end > key_line and blank_or_comment(lines[end - 1]):
        end -= 1
    return end


def indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def mapping_end(lines: list[str], first: int) -> int:
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    for number in range(first + 1, len(lines) + 1):
        line = lines[number - 1]
        if line.strip() and not line.lstrip().startswith("#") and \
                len(line) - len(line.lstrip()) <= indent:
            return number - 1
    return len(lines)


def list_end(lines: list[str], key_line: int) -> int:
    """The last line of the block list under ``key_line`` (items may sit at its indent)."""
    indent = len(lines[key_line - 1]) - len(lines[key_line - 1].lstrip())
    for number in range(key_line + 1, len(lines) + 1):
        line = lines[number - 1]
        depth = len(line) - len(line.lstrip())
        if not blank_or_comment(line) and depth <= indent and \
                not (depth == indent and line.lstrip().startswith("- ")):
            return number - 1
    return len(lines)


def blank_or_comment(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def read_examples(text: str) -> dict[str, list[str]]:
    """Intent → examples of an editor file (empty text: none)."""
    document = yaml.safe_load(text) if text.strip() else None
    examples: dict[str, list[str]] = {}
    for item in (document or {}).get("nlu") or []:
        lines = [line.strip()[2:].strip() for line in str(item.get("examples", "")).splitlines()
                 if line.strip().startswith("- ")]
        examples.setdefault(str(item["intent"]), []).extend(lines)
    return examples


def write_examples(examples: dict[str, list[str]]) -> str:
    parts = ["# Example questions added from the FAQ editor (callbot web): edited there.",
             'version: "3.1"', "nlu:" if any(examples.values()) else "nlu: []"]
    for intent in sorted(examples):
        if not examples[intent]:
            continue
        parts.append(f"- intent: {intent}\n  examples: |")
        parts.extend(f"    - {example}" for example in examples[intent])
    return "\n".join(parts) + "\n"


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (same folder, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
