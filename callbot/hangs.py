"""Stage deadlines: a part that hangs (never returns) fails like a part that raises.

A raise travels as an exception; a hang would leave the caller in dead air and a worker
thread blocked for good. So the blocking stages of a call run on ``WatchedPool`` threads
under a deadline (``DeadlineSettings``): past it, the caller of the stage gets
``StageTimeout`` (the conversation then hands the call to a person), and the thread that
hangs is written off: the pool starts a fresh one in its place, so the other calls keep
their recognition, NLU and synthesis. Pool threads are daemons: a thread that never
returns does not keep the process from exiting either.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from loguru import logger

if TYPE_CHECKING:
    from callbot.config import DeadlineSettings

T = TypeVar("T")
_POOLS: dict[str, WatchedPool] = {}
_POOLS_LOCK = threading.Lock()


class StageTimeout(TimeoutError):
    """A stage of the call gave no result within its deadline: it hangs (or crawls)."""

    def __init__(self, component: str, seconds: float, what: str = "did not answer") -> None:
        super().__init__(f"timeout: {component} {what} within {seconds:.1f} s (hang)")
        self.component = component


class WatchedPool(Executor):
    """A fixed set of daemon worker threads that knows how long each has been busy.

    ``write_off_stuck`` gives up on threads busy for too long and starts as many new ones;
    the jobs queued behind them run on the new threads.
    """

    def __init__(self, name: str, workers: int,
                 initializer: Callable[[], None] | None = None) -> None:
        self.name = name
        self._initializer = initializer
        self._work: queue.SimpleQueue[tuple[Future, Callable[[], Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # thread ident → (start, future) of its current job
        self._busy: dict[int, tuple[float, Future]] = {}
        self._given_up: set[int] = set()
        self._numbers = itertools.count(1)
        self.written_off = 0
        for _ in range(workers):
            self._spawn()

    def _spawn(self) -> None:
        threading.Thread(target=self._worker, name=f"{self.name}-{next(self._numbers)}",
                         daemon=True).start()

    def _worker(self) -> None:
        if self._initializer is not None:
            self._initializer()
        ident = threading.get_ident()
        while True:
            future, job = self._work.get()
            if not future.set_running_or_notify_cancel():  # its call ended while it was queued
                del future, job
                continue
            with self._lock:
                self._busy[ident] = (time.monotonic(), future)
            try:
                result = job()
            except BaseException as exc:  # handed to whoever waits for the future
                future.set_exception(exc)
            else:
                future.set_result(result)
            finally:
                with self._lock:
                    self._busy.pop(ident, None)
                    replaced = ident in self._given_up
                    self._given_up.discard(ident)
            del future, job  # an idle thread must not pin its last job's arguments
            if replaced:  # a new thread took its place: the pool keeps its size
                return

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self._work.put((future, partial(fn, *args, **kwargs)))
        return future

    def write_off_stuck(self, busy_for_sec: float) -> int:
        """Give up on threads busy for ``busy_for_sec`` or more; one new thread for each."""
        now = time.monotonic()
        with self._lock:
            stuck = [ident for ident, (since, _) in self._busy.items()
                     if now - since >= busy_for_sec and ident not in self._given_up]
            self._given_up.update(stuck)
            self.written_off += len(stuck)
        for _ in stuck:
            self._spawn()
        if stuck:
            logger.error(f"{self.name}: {len(stuck)} thread(s) busy for over {busy_for_sec:.1f} s "
                         f"written off and replaced ({self.written_off} so far in this process)")
        return len(stuck)

    def call(self, component: str, deadline_sec: float, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the pool and wait for it from a plain thread, ``StageTimeout`` past
        the deadline."""
        future = self.submit(fn, *args)
        try:
            return future.result(timeout=deadline_sec)
        except FutureTimeout:
            raise self._missed(future, component, deadline_sec) from None

    async def run(self, component: str, deadline_sec: float, fn: Callable[..., T], *args: Any,
                  from_start: bool = False) -> T:
        """``call`` for coroutines: awaits ``fn`` on the pool without blocking the loop.

        ``from_start``: the deadline counts from when a thread starts the job, so time spent
        queued behind other jobs (a busy machine) is no hang. While queued, the waiter writes
        off threads busy past the deadline: a job hung for a call that has ended has nobody
        else to miss its deadline, and would otherwise hold its thread for good.
        """
        future = self.submit(fn, *args)
        waiter = asyncio.wrap_future(future)
        if not from_start:
            try:
                return await asyncio.wait_for(waiter, deadline_sec)
            except TimeoutError:
                raise self._missed(future, component, deadline_sec) from None
        try:
            while True:
                started = self._started(future)
                if started is None:
                    self.write_off_stuck(deadline_sec)
                left = deadline_sec if started is None else started + deadline_sec - time.monotonic()
                if left <= 0:
                    raise self._missed(future, component, deadline_sec)
                done, _ = await asyncio.wait({waiter}, timeout=left)
                if done:
                    return waiter.result()
        except asyncio.CancelledError:
            # the call ended: a job still queued must not run (``asyncio.wait`` leaves it be);
            # a soak of SIP calls piled up such jobs, each pinning its call's Vosk recogniser
            future.cancel()
            raise

    def _started(self, future: Future) -> float | None:
        with self._lock:
            return next((since for since, job in self._busy.values() if job is future), None)

    def _missed(self, future: Future, component: str, deadline_sec: float) -> StageTimeout:
        future.cancel()  # still queued: it never runs; running: the thread is written off
        self.write_off_stuck(deadline_sec)
        return StageTimeout(component, deadline_sec)


def stage_pool(name: str, workers: int = 6,
               initializer: Callable[[], None] | None = None) -> WatchedPool:
    """The process's pool called ``name`` (created on first use, shared by every call)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(name)
        if pool is None:
            pool = _POOLS[name] = WatchedPool(name, workers, initializer)
        return pool



def deadline_runner(deadlines: DeadlineSettings) -> Callable[..., Any]:
    """A ``Conversation.run_stage`` for audio calls: NLU and knowledge base on the
    "conversation" pool, each under its deadline (``StageTimeout`` past it)."""
    seconds = {"nlu": deadlines.nlu_sec, "kb": deadlines.kb_sec}

    def run_stage(stage: str, fn: Callable[..., T], /, *args: Any) -> T:
        return stage_pool("conversation").call(stage, seconds[stage], fn, *args)

    return run_stage
