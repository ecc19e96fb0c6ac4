"""A job queued on a ``WatchedPool`` for a call that ended must neither run nor stay pinned.

Issue 7 (memory over a SIP soak): each ended call left its last Vosk job queued on the
decoder pool (``WatchedPool.run(..., from_start=True)`` awaited it through ``asyncio.wait``,
which does not cancel what it waits for), so the job later ran for nobody and, while the
pool was behind, kept the call's recogniser (megabytes of native Kaldi state) alive: serve's
RSS grew ~1.1-1.8 MB per call. Real pool, real threads; the "recogniser" is a plain object
whose release is observed through a weak reference.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

from callbot.hangs import WatchedPool


class Recogniser:
    """Stands for a call's Vosk recogniser: what a queued decoder job holds on to."""


async def test_cancelled_queued_job_never_runs_nor_pins_its_arguments() -> None:
    pool = WatchedPool("test-cancel", workers=1)
    busy, release = threading.Event(), threading.Event()
    ran: list[Recogniser] = []
    blocker = asyncio.ensure_future(pool.run("stt", 30, lambda: (busy.set(), release.wait(10))))
    await asyncio.to_thread(busy.wait, 10)  # the only thread is taken: the next job queues

    recogniser = Recogniser()
    gone = weakref.ref(recogniser)
    call = asyncio.ensure_future(pool.run("stt", 5, ran.append, recogniser, from_start=True))
    await asyncio.sleep(0.1)
    call.cancel()  # the caller hung up while the job was queued
    del recogniser
    await asyncio.gather(call, return_exceptions=True)
    del call  # its CancelledError's frames hold the arguments too

    release.set()
    await blocker
    # a last job goes through the same thread: the cancelled one was dequeued before it
    await pool.run("stt", 5, lambda: None)
    gc.collect()
    assert ran == [], "the job of an ended call ran"
    assert gone() is None, "the pool still holds the ended call's recogniser"
