"""The local spool: records the database could not take, as JSON lines, replayed later.

Each writer appends to its own file and holds an exclusive ``flock`` on it while it
lives; a file nobody holds belongs to a writer that died, and any writer may adopt it.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from loguru import logger

from callbot.store.records import Record


class Spool:
    """Append-only JSON-lines file owned by one writer, plus adoption of orphaned ones."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"spool-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._handle: IO[str] = self.path.open("a+", encoding="utf-8")
        fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.pending = 0

    def append(self, records: Iterable[Record]) -> None:
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
        self._handle.writelines(lines)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.pending += len(lines)

    def read(self) -> list[Record]:
        self._handle.seek(0)
        return _parse_lines(self._handle, self.path)

    def clear(self) -> None:
        self._handle.truncate(0)
        self._handle.flush()
        self.pending = 0

    def close(self) -> None:
        """Keep the file if it still holds records (another writer adopts it later)."""
        empty = self.pending == 0
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        if empty:
            self.path.unlink(missing_ok=True)

    def orphans(self) -> list[Path]:
        return [p for p in sorted(self.directory.glob("spool-*.jsonl")) if p != self.path]


def take_orphan(path: Path) -> tuple[IO[str], list[Record]] | None:
    """Lock a dead writer's spool and read it; ``None`` if a live writer still holds it."""
    try:
        handle = path.open("r+", encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle, _parse_lines(handle, path)


def _parse_lines(handle: IO[str], path: Path) -> list[Record]:
    records = []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line after a crash: skip it, say so
            logger.error(f"{path}:{number}: unreadable spool line skipped")
    return records
