"""The threads that decode speech: one pool per process, sized to the cores, at a lower priority.

Recognition is the heaviest CPU work of a call (Vosk's ``AcceptWaveform`` took three quarters
of the serve process's CPU with 20 calls). In asyncio's default pool it ran on up to
``cpu + 4`` threads at the event loop's priority, so on a busy machine the loop, which paces
every call's audio, waited for a core behind them and the callers heard holes. Here decoding
gets as many threads as there are cores, niced: when the CPU is short, recognition falls
behind (the turn ends a little later) rather than the audio. The pool is a ``WatchedPool``
(``callbot/hangs.py``): a job (a chunk, a final result: tens of milliseconds) running for over
its deadline fails with ``StageTimeout`` and its thread is written off and replaced, so a
wedged recogniser costs its own call, never the recognition of the others. The deadline
counts from the job's start, not its queueing: a machine that falls behind is not a hang.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from loguru import logger

from callbot.hangs import WatchedPool, stage_pool

#: Added to the decoder threads' nice value (Linux: per thread); 0 leaves them as they are.
DECODER_NICENESS = 5

T = TypeVar("T")


def lower_thread_priority(niceness: int) -> None:
    """Add ``niceness`` to the calling thread's nice value (Linux: per thread)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
    except (AttributeError, OSError) as error:  # not Linux, or not allowed: run as they are
        logger.debug(f"thread {threading.current_thread().name} keeps its priority ({error})")


def _lower_priority() -> None:
    lower_thread_priority(DECODER_NICENESS)


def decoder_pool() -> WatchedPool:
    return stage_pool("speech-decoder", os.cpu_count() or 2, _lower_priority)


async def run_decoder(function: Callable[..., T], *args: object,
                      deadline_sec: float | None = None) -> T:
    """``asyncio.to_thread`` for recognition work: on the decoder pool; with ``deadline_sec``,
    ``StageTimeout`` when the job runs longer (``callbot/hangs.py``)."""
    if deadline_sec is not None:
        return await decoder_pool().run("stt", deadline_sec, function, *args, from_start=True)
    return await asyncio.get_running_loop().run_in_executor(decoder_pool(),
                                                            partial(function, *args))
