"""YAML loading that remembers line numbers, so data errors can say where they are."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from callbot.problems import DataError, Problem

#: Deeper ``[``/``{`` nesting is refused before parsing: PyYAML's time grows with the square
#: of the depth (a 2 kB ``[[[[…`` costs seconds) and it recurses until RecursionError.
MAX_FLOW_DEPTH = 100
_FLOW_BRACKETS = re.compile(r"[\[\]{}]")


def _flow_depth(text: str) -> int:
    depth = deepest = 0
    for bracket in _FLOW_BRACKETS.finditer(text):
        depth = depth + 1 if bracket.group() in "[{" else max(0, depth - 1)
        deepest = max(deepest, depth)
    return deepest


class LineDict(dict):
    """A mapping that knows its own line and the line of each of its keys (1-based)."""

    line: int = 0
    key_lines: dict[str, int]
    duplicate_keys: list[tuple[str, int]]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines, self.duplicate_keys = {}, []  # also for an empty default LineDict()

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    mapping.duplicate_keys = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            key = str(key)
        if key in mapping:
            mapping.duplicate_keys.append((str(key), key_node.start_mark.line + 1))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[str(key)] = value_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path, text: str | None = None) -> Any:
    """Parse a YAML file; syntax errors and undecodable bytes become a ``DataError``."""
    try:
        source = text if text is not None else path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError([Problem(str(path), 1, f"not UTF-8 text ({exc.reason})")]) from exc
    except OSError as exc:
        raise DataError([Problem(str(path), 0, f"cannot read file: {exc.strerror}")]) from exc
    if _flow_depth(source) > MAX_FLOW_DEPTH:
        raise DataError([Problem(str(path), 0, "invalid YAML: nested too deeply")])
    try:
        return yaml.load(source, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise DataError([Problem(str(path), line, f"invalid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise DataError([Problem(str(path), 0, f"invalid YAML: {exc}")]) from exc
    except RecursionError:  # PyYAML composes nested nodes recursively: [[[[… a thousand deep
        raise DataError([Problem(str(path), 0, "invalid YAML: nested too deeply")]) from None
    except (ValueError, OverflowError) as exc:  # a scalar PyYAML cannot build: 2026-13-45
        raise DataError([Problem(str(path), 0, f"invalid YAML value: {exc}")]) from exc
