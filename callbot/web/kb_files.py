"""Every file the knowledge base is read from, as one value the editor changes and writes.

The bot reads ``kb.yml``, the topic files ``topics/*.yml`` and the editor's training
examples; an edit may touch any of them, so the editor works on a snapshot of all of
them: it validates the snapshot it is about to write (``load_knowledge_base`` with the
topic files as overrides), stores it as a revision, then replaces only the files that
changed, each atomically.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from callbot.kb.loader import TOPICS_DIR, load_knowledge_base, topic_files
from callbot.kb.model import KnowledgeBase
from callbot.web.kb_text import replace_file

#: The topic file the editor owns and regenerates whole (topics created in the editor).
EDITOR_TOPICS_FILE = "editor.yml"


@dataclass(frozen=True)
class KbFiles:
    kb_path: Path
    examples_path: Path
    kb: str
    examples: str
    topics: Mapping[str, str] = field(default_factory=dict)  # file name in topics/ → text

    @classmethod
    def read(cls, kb_path: Path, examples_path: Path) -> KbFiles:
        examples = examples_path.read_text("utf-8") if examples_path.exists() else ""
        return cls(kb_path, examples_path, kb_path.read_text("utf-8"), examples,
                   {p.name: p.read_text("utf-8") for p in topic_files(kb_path)})

    @property
    def topics_dir(self) -> Path:
        return self.kb_path.parent / TOPICS_DIR

    @property
    def editor_topics_path(self) -> Path:
        return self.topics_dir / EDITOR_TOPICS_FILE

    def path_of(self, name: str) -> Path:
        return self.topics_dir / name

    def source_name(self, source: str) -> str | None:
        """The topic file ``source`` (a ``Topic.source``) names; ``None`` for kb.yml."""
        path = Path(source)
        if path == self.kb_path:
            return None
        if path.parent != self.topics_dir:
            raise KeyError(f"{source} is not a file of this knowledge base")
        return path.name

    def text_of(self, source: str) -> str:
        name = self.source_name(source)
        return self.kb if name is None else self.topics.get(name, "")

    def with_text(self, source: str, text: str) -> KbFiles:
        name = self.source_name(source)
        if name is None:
            return replace(self, kb=text)
        return replace(self, topics={**self.topics, name: text})

    def with_editor_topics(self, text: str) -> KbFiles:
        return replace(self, topics={**self.topics, EDITOR_TOPICS_FILE: text})

    def overrides(self) -> dict[Path, str]:
        """Topic files as they would be; one on disk but not here counts as empty."""
        gone = {p: "" for p in topic_files(self.kb_path) if p.name not in self.topics}
        return {**gone, **{self.path_of(name): text for name, text in self.topics.items()}}

    def load(self) -> KnowledgeBase:
        """The knowledge base of these texts; ``DataError`` with every problem otherwise."""
        return load_knowledge_base(self.kb_path, self.kb, self.overrides())

    def topics_json(self) -> str:
        return json.dumps(dict(sorted(self.topics.items())), ensure_ascii=False)

    def with_topics_json(self, stored: str) -> KbFiles:
        """Topic files of a stored revision; an old revision stored none: keep today's."""
        return replace(self, topics=json.loads(stored)) if stored else self

    def diff(self, new: KbFiles) -> str:
        parts = [_diff(self.kb, new.kb, self.kb_path.name),
                 _diff(self.examples, new.examples, self.examples_path.name)]
        for name in sorted(set(self.topics) | set(new.topics)):
            parts.append(_diff(self.topics.get(name, ""), new.topics.get(name, ""),
                               f"{TOPICS_DIR}/{name}"))
        return "".join(parts)

    def write_changes(self, old: KbFiles, examples: bool = True) -> None:
        """Replace the files that differ from ``old`` (atomically), remove dropped ones.
        ``examples=False``: the caller writes the examples file itself (after training)."""
        if examples and self.examples != old.examples:
            replace_file(self.examples_path, self.examples)
        for name, text in self.topics.items():
            if old.topics.get(name) != text:
                replace_file(self.path_of(name), text)
        for name in set(old.topics) - set(self.topics):
            self.path_of(name).unlink(missing_ok=True)
        if self.kb != old.kb:
            replace_file(self.kb_path, self.kb)


def _diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                        f"a/{name}", f"b/{name}"))
