"""Run a long Rasa step (pip install, training) and show that it is moving.

Lines are split on ``\\r`` as well as ``\\n`` so tqdm bars (Rasa's "Epochs: 40%") come through;
the last lines are kept to explain a failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

_TAIL_LINES = 40
_EVERY_SEC = 5.0


class RasaSetupError(RuntimeError):
    """A Rasa step failed; the message says which and ends with Rasa's own last lines."""


def rasa_environ() -> dict[str, str]:
    """Environment for Rasa processes: no telemetry, quiet TensorFlow."""
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def _lines(stream: object) -> object:
    buffer = ""
    while chunk := stream.read(256):  # type: ignore[attr-defined]
        buffer += chunk
        *complete, buffer = re.split(r"[\r\n]", buffer)
        yield from (line for line in complete if line.strip())
    if buffer.strip():
        yield buffer


def run_with_progress(command: list[str], what: str, *, quiet: bool = False,
                      show: Callable[[str], bool] = lambda _line: False,
                      cwd: Path | None = None, timeout_sec: float = 1800.0) -> float:
    """Run ``command``; print lines ``show`` selects (at most every 5 s); return the seconds taken.

    Raises ``RasaSetupError`` with the tail of the output when the command fails.
    """
    started = time.monotonic()
    if not quiet:
        print(f"callbot rasa: {what} …", flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, errors="replace", env=rasa_environ(), cwd=cwd)
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    shown_at = 0.0
    assert process.stdout is not None
    for line in _lines(process.stdout):  # type: ignore[attr-defined]
        tail.append(line)
        elapsed = time.monotonic() - started
        if not quiet and show(line) and elapsed - shown_at >= _EVERY_SEC:
            shown_at = elapsed
            print(f"  [{elapsed:4.0f} s] {line.strip()[:110]}", flush=True)
        if elapsed > timeout_sec:
            process.kill()
            break
    code = process.wait()
    elapsed = time.monotonic() - started
    if code != 0:
        raise RasaSetupError(f"{what} failed (exit {code}):\n" + "\n".join(tail))
    if not quiet:
        print(f"callbot rasa: {what}: done in {elapsed:.0f} s", flush=True)
    return elapsed
