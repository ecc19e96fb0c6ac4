"""The knowledge base in use, reloaded when its file changes, never replaced by a bad one."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from callbot.kb.loader import load_knowledge_base, topic_files
from callbot.kb.model import KnowledgeBase
from callbot.problems import DataError, Problem


class LiveKnowledgeBase:
    """Holds the last valid knowledge base; ``refresh()`` is a cheap stat between turns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime_ns = self._stat()
        self.current: KnowledgeBase = load_knowledge_base(path)  # invalid at start: refuse
        self.last_problems: list[Problem] = []

    def _stat(self) -> tuple[tuple[str, int], ...]:
        """Names and mtimes of the main file and its topic files (a new file counts too)."""
        stamp = []
        for path in (self.path, *topic_files(self.path)):
            try:
                stamp.append((str(path), path.stat().st_mtime_ns))
            except OSError:
                stamp.append((str(path), -1))
        return tuple(stamp)

    def reload(self) -> list[Problem]:
        """Load the file again; on any problem keep the current one and return the problems."""
        self._mtime_ns = self._stat()
        try:
            self.current = load_knowledge_base(self.path)
        except DataError as exc:
            self.last_problems = exc.problems
            logger.error(f"knowledge base {self.path} not reloaded, keeping revision "
                         f"{self.current.revision}: {len(exc.problems)} problem(s)\n{exc}")
            return exc.problems
        self.last_problems = []
        logger.info(f"knowledge base reloaded, revision {self.current.revision}")
        return []

    def refresh(self) -> KnowledgeBase:
        if self._stat() != self._mtime_ns:
            self.reload()
        return self.current
