"""A service's name, phone, address, hours and closures, edited as lines of its file.

The file is the town's (``kb.yml`` or a topic file), with its comments: each weekday's
hours line is replaced where it is, a removed closure loses only its own lines, a new
one is appended to the list. Only a layout the lines cannot follow (hours or closures
written inline as ``{…}`` / ``[…]``) is rewritten, and then only that key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from callbot.kb.hours import parse_hours
from callbot.kb.model import WEEKDAYS_FR
from callbot.web.kb_text import (
    blank_or_comment,
    block_end,
    find_block,
    indent_of,
    key_line_of,
    list_end,
    mapping_end,
    quoted,
    replace_key,
    set_fields,
)
from callbot.yaml_lines import LineDict

SERVICE_FIELDS = ("name", "phone", "address", "access")
HOURS_EXAMPLE = "8h30-12h, 13h30-17h30"
_TRAILING_COMMENT = re.compile(r"\s+#.*$")


@dataclass(frozen=True)
class ClosureDraft:
    first: date
    last: date
    reason: str


@dataclass(frozen=True)
class ServiceEdit:
    fields: dict[str, str]  # name, phone, address, access
    hours: dict[str, str]  # weekday → normalised hours ("fermé" when closed)
    remove: frozenset[int] = frozenset()  # indexes of closures to drop
    add: tuple[ClosureDraft, ...] = field(default_factory=tuple)


def normal_hours(text: str) -> str:
    """The hours as the file writes them; ``ValueError`` with the reason otherwise."""
    ranges = parse_hours(text)
    if not ranges:
        return "fermé"
    return ", ".join(f"{clock_text(r.start)}-{clock_text(r.end)}" for r in ranges)


def clock_text(moment: time) -> str:
    if moment == time(23, 59):
        return "24h"
    return f"{moment.hour}h{moment.minute:02d}" if moment.minute else f"{moment.hour}h"


def parse_service_form(form: Mapping[str, str]) -> tuple[ServiceEdit | None, list[str]]:
    """The edit a service form asks for, or every problem of it (in the editor's words)."""
    problems: list[str] = []
    hours: dict[str, str] = {}
    for weekday in WEEKDAYS_FR:
        typed = str(form.get(f"hours_{weekday}", "")).strip()
        try:
            hours[weekday] = normal_hours(typed)
        except ValueError as exc:
            problems.append(f"{weekday}: \"{typed}\" is not opening hours: {exc}. Write them "
                            f"like \"{HOURS_EXAMPLE}\", or \"fermé\".")
    removed = set()
    for value in form.getall("remove", []) if hasattr(form, "getall") else []:
        if str(value).isdigit():
            removed.add(int(value))
    adds = []
    first_text = str(form.get("closure_from", "")).strip()
    last_text = str(form.get("closure_to", "")).strip() or first_text
    reason = " ".join(str(form.get("closure_reason", "")).split())
    if first_text or reason:
        try:
            first, last = date.fromisoformat(first_text), date.fromisoformat(last_text)
        except ValueError:
            problems.append("a new closure needs a date (YYYY-MM-DD), or a first and a last "
                            "date")
        else:
            if last < first:
                problems.append(f"the new closure ends ({last}) before it starts ({first})")
            else:
                adds.append(ClosureDraft(first, last, reason))
    fields = {key: " ".join(str(form.get(key, "")).split()) for key in SERVICE_FIELDS}
    if problems:
        return None, problems
    return ServiceEdit(fields, hours, frozenset(removed), tuple(adds)), []


def service_source(texts: Mapping[Path, str], service_id: str) -> Path | None:
    """Which of the files defines the service."""
    for path, text in texts.items():
        try:
            find_block(path, text, "services", service_id)
        except KeyError:
            continue
        return path
    return None


def apply_service_edit(path: Path, text: str, service_id: str, edit: ServiceEdit) -> str:
    """``text`` with the edit made; every line it does not concern stays as it was."""
    block = find_block(path, text, "services", service_id)
    fields = {k: v for k, v in edit.fields.items()  # unchanged ones keep their layout
              if str(block.get(k) or "").strip() != v and (v or k in block)}
    text = set_fields(path, text, "services", service_id, fields, after="name")
    text = set_hours(path, text, service_id, edit.hours)
    closures = find_block(path, text, "services", service_id).get("closures") or []
    for index in sorted(edit.remove, reverse=True):
        if index < len(closures):
            text = remove_closure(path, text, service_id, index)
    for closure in edit.add:
        text = add_closure(path, text, service_id, closure)
    return text


def set_hours(path: Path, text: str, service_id: str, hours: dict[str, str]) -> str:
    block = find_block(path, text, "services", service_id)
    lines = text.splitlines()
    found = block.get("hours")
    if isinstance(found, LineDict) and _one_line_each(lines, found):
        for weekday in WEEKDAYS_FR:
            number = found.line_of(weekday)
            line = lines[number - 1]
            found_comment = _TRAILING_COMMENT.search(line.split(":", 1)[1])
            comment = found_comment.group() if found_comment else ""
            lines[number - 1] = f"{indent_of(line)}{weekday}: {hours[weekday]}{comment}"
        return "\n".join(lines) + "\n"
    return replace_key(path, text, "services", service_id, "hours",
                       ["hours:", *(f"  {d}: {hours[d]}" for d in WEEKDAYS_FR)])


def remove_closure(path: Path, text: str, service_id: str, index: int) -> str:
    block = find_block(path, text, "services", service_id)
    lines = text.splitlines()
    items = block.get("closures")
    start = key_line_of(lines, block.line_of("closures"), "closures")
    if not _block_list(lines, start, items):
        kept = [c for i, c in enumerate(items) if i != index]
        lines[start - 1:mapping_end(lines, start)] = _closures_key(lines[start - 1], kept)
        return "\n".join(lines) + "\n"
    first = items[index].line
    end = items[index + 1].line - 1 if index + 1 < len(items) else list_end(lines, start)
    while end > first and blank_or_comment(lines[end - 1]):
        end -= 1
    del lines[first - 1:end]
    return "\n".join(lines) + "\n"


def add_closure(path: Path, text: str, service_id: str, closure: ClosureDraft) -> str:
    block = find_block(path, text, "services", service_id)
    lines = text.splitlines()
    items = block.get("closures") or []
    new = _closure_lines(closure.first, closure.last, closure.reason)
    if "closures" not in block:
        at = block_end(lines, block, service_id)
        indent = indent_of(lines[block.line - 1])
        lines[at:at] = [f"{indent}closures:", *(f"{indent}  {line}" for line in new)]
        return "\n".join(lines) + "\n"
    start = key_line_of(lines, block.line_of("closures"), "closures")
    if not items or not _block_list(lines, start, items):
        as_mapping = LineDict(date=closure.first) if closure.first == closure.last else \
            LineDict({"from": closure.first, "to": closure.last})
        if closure.reason:
            as_mapping["reason"] = closure.reason
        lines[start - 1:mapping_end(lines, start)] = _closures_key(lines[start - 1],
                                                                 [*items, as_mapping])
        return "\n".join(lines) + "\n"
    end = list_end(lines, start)
    while end > start and blank_or_comment(lines[end - 1]):
        end -= 1
    dash = indent_of(lines[items[-1].line - 1])
    lines[end:end] = [f"{dash}{line}" for line in new]
    return "\n".join(lines) + "\n"


def _closure_lines(first: date, last: date, reason: str, only: list | None = None) -> list[str]:
    found = [f"- date: {first.isoformat()}"] if first == last else \
        [f"- from: {first.isoformat()}", f"  to: {last.isoformat()}"]
    if reason:
        found.append(f"  reason: {quoted(reason)}")
    if only:
        found.append(f"  only: [{', '.join(str(d) for d in only)}]")
    return found


def _closures_key(key_line: str, closures: list) -> list[str]:
    """The whole ``closures:`` key, written as a block list (from an inline one)."""
    indent = indent_of(key_line)
    if not closures:
        return [f"{indent}closures: []"]
    lines = [f"{indent}closures:"]
    for item in closures:
        first = item.get("date") or item.get("from")
        last = item.get("date") or item.get("to") or first
        lines += [f"{indent}  {line}" for line in _closure_lines(
            first, last, str(item.get("reason") or ""), item.get("only"))]
    return lines


def _one_line_each(lines: list[str], hours: LineDict) -> bool:
    """Every weekday on a line of its own, as ``lundi: …`` (the usual block layout)."""
    numbers = [hours.line_of(d) for d in WEEKDAYS_FR if d in hours]
    return len(numbers) == 7 == len(set(numbers)) and all(
        lines[hours.line_of(d) - 1].strip().startswith(f"{d}:") for d in WEEKDAYS_FR)


def _block_list(lines: list[str], key_line: int, items: object) -> bool:
    value = lines[key_line - 1].split(":", 1)[1].strip()
    return isinstance(items, list) and bool(items) and (not value or value.startswith("#")) \
        and all(isinstance(i, LineDict) and lines[i.line - 1].lstrip().startswith("- ")
                for i in items)


