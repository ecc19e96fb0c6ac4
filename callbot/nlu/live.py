"""The NLU in use, swapped for a retrained one when the training data changes on disk.

``parse`` costs one cheap look at the data files' mtimes (at most once a second); when
they changed, a named background thread loads the model for the new data (from the
cache the FAQ editor filled, or by training) while calls go on with the old one, which
is then swapped in one assignment. Invalid new data keeps the old model, and says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from callbot.nlu.result import ParseResult
from callbot.nlu.training_data import nlu_files
from callbot.problems import DataError

CHECK_INTERVAL_SEC = 1.0


def data_stamp(data_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, mtimes and sizes of the NLU files: changes whenever a file does."""
    stamp = []
    for path in nlu_files(data_dir):
        try:
            info = path.stat()
        except OSError:
            continue
        stamp.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(stamp)


class LiveNLU:
    """Wraps any ``parse(text) → ParseResult`` backend made by ``load``."""

    def __init__(self, load: Callable[[], Any], data_dir: Path,
                 check_interval_sec: float = CHECK_INTERVAL_SEC) -> None:
        self._load = load
        self.data_dir = data_dir
        self.check_interval_sec = check_interval_sec
        self._stamp = data_stamp(data_dir)
        self.current = load()
        self._checked_at = time.monotonic()
        self._reloading: threading.Thread | None = None

    def parse(self, text: str) -> ParseResult:
        self.refresh()
        return self.current.parse(text)

    def refresh(self) -> None:
        """Start a reload when the data changed; never waits for it."""
        now = time.monotonic()
        if now - self._checked_at < self.check_interval_sec or self._reloading:
            return
        self._checked_at = now
        stamp = data_stamp(self.data_dir)
        if stamp != self._stamp:
            self._reloading = threading.Thread(target=self._reload, args=(stamp,),
                                               name="nlu-reload", daemon=True)
            self._reloading.start()

    def _reload(self, stamp: tuple[tuple[str, int, int], ...]) -> None:
        try:
            started = time.perf_counter()
            model = self._load()
        except (DataError, OSError, ValueError) as exc:
            logger.error(f"NLU data in {self.data_dir} changed but cannot be used; keeping the "
                         f"current model:\n{exc}")
        else:
            self.current = model
            logger.info(f"NLU model swapped for the new data in "
                        f"{time.perf_counter() - started:.1f} s")
        finally:
            self._stamp = stamp
            self._reloading = None

    def wait(self, timeout_sec: float = 120.0) -> None:
        """Check now and wait for a reload in progress (tests, benchmarks)."""
        self._checked_at = 0.0
        self.refresh()
        reloading = self._reloading
        if reloading:
            reloading.join(timeout_sec)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current, name)
