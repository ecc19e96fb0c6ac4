"""The thread that owns sippy: started once, stopped once, cleaned up in itself.

sippy's rules, all kept here: sippy is imported first inside this thread (its dispatcher
``ED2`` binds to the importing thread); other threads reach it only with
``ED2.callFromThread``; its callbacks never block; the SIP port is probed before sippy binds
it (sippy sets SO_REUSEPORT, so a second process would bind the same port silently); and it
is shut down inside its own thread (else the interpreter may crash at exit). ``ED2`` is a
process-wide singleton, so a process runs at most one SIP stack.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from callbot.config import SipSettings
    from callbot.sip.sippy_side import SignallingEvents, SippyStack

START_TIMEOUT_SEC = 10.0


def probe_udp_port(host: str, port: int) -> int:
    """Bind without SO_REUSE* to prove the port is free; port 0 picks one. Returns the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"SIP port {host}:{port} is not free ({exc.strerror})") from exc
        return probe.getsockname()[1]


class SippyThread:
    """Runs ``SippyStack`` and sippy's event loop in a daemon thread."""

    def __init__(self, settings: SipSettings, port: int, events: SignallingEvents) -> None:
        self._args = (settings, port, events)
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sippy", daemon=True)
        self.stack: SippyStack | None = None

    def start(self) -> None:
        """Blocking (call it in a worker thread): returns once sippy listens, or raises."""
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_SEC):
            raise TimeoutError("the SIP stack did not start")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            from sippy.Core.EventDispatcher import ED2  # first sippy import: ED2 is ours

            from callbot.sip.sippy_side import SippyStack

            self.stack = SippyStack(*self._args)
        except BaseException as exc:  # reported to start() in the other thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            ED2.loop()
        finally:
            self.stack.shutdown()
            self._stopped.set()
            logger.debug("sippy stopped")
        # Parked, never ended: sippy's helper threads wake ED2's thread with a signal, and
        # signalling a thread that has ended crashes the process (seen as exit code -11).
        threading.Event().wait()

    def call(self, function, *args: object) -> None:
        from sippy.Core.EventDispatcher import ED2

        ED2.callFromThread(function, *args)

    def stop(self, timeout_sec: float = 5.0) -> None:
        """Blocking: stop sippy's loop (cleanup runs in its thread) and wait for the cleanup."""
        if not self._ready.is_set() or self._error is not None or self._stopped.is_set():
            return
        from sippy.Core.EventDispatcher import ED2

        ED2.callFromThread(ED2.breakLoop)
        self._stopped.wait(timeout_sec)
