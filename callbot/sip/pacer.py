"""The 20 ms RTP send clock of every SIP call, in one thread of its own.

Why not an asyncio task per call: the event loop also runs every call's pipeline, and when it
stalls, every call's packets leave late together (measured with ``callbot bench sip``: 6–10 %
of the bot's packets late or missing at 10 calls, 25 % at 20). ``RtpPacer`` sleeps to an
absolute deadline every 20 ms and sends one packet per registered ``PacedStream``: the next
queued payload, or silence. The asyncio side only queues payloads (a deque is thread-safe) and
flushes them at barge-in; it hears back through ``loop.call_soon_threadsafe`` when a queue ran
empty or the caller's media stopped.

The sends keep the GIL where they can (libc ``sendto`` through ``ctypes.PyDLL``): a
non-blocking UDP send takes microseconds, while ``socket.sendto`` releases the GIL and must win
it back from the pipelines' threads, up to a switch interval (5 ms) for each of the 20 calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import random
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from loguru import logger

from callbot.sip.rtp_wire import PACKET_MS, SAMPLES_PER_PACKET, RtpPacket

PACKET_SEC = PACKET_MS / 1000
#: Behind by more than this (the whole process was not scheduled), the clock jumps instead of
#: sending a burst the caller's jitter buffer would drop anyway.
MAX_CATCH_UP_SLOTS = 5
#: Nice value asked for the pacer thread (root only; refused silently otherwise).
PACER_NICE = -10


def _libc_sendto() -> Callable[..., int] | None:
    """libc's sendto called with the GIL held (Linux, where ``sockaddr_in`` has no length byte)."""
    if sys.platform != "linux":
        return None
    try:
        function = ctypes.PyDLL(ctypes.util.find_library("c") or None).sendto
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                         ctypes.c_char_p, ctypes.c_uint32]
    function.restype = ctypes.c_ssize_t
    return function


_SENDTO = _libc_sendto()
_MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


def _sockaddr_in(remote: tuple[str, int]) -> bytes | None:
    """The C ``struct sockaddr_in`` of an IPv4 address, None for anything else."""
    try:
        address = socket.inet_aton(remote[0])
    except OSError:
        return None
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", remote[1]) + address + bytes(8)


class PacedStream:
    """One call's outgoing RTP: ``queue``/``flush`` on the asyncio side, ``tick`` in the pacer.

    ``on_drained`` runs in the loop after the pacer sent the last queued payload (it should
    check ``pending``: more may have been queued since); ``on_timeout`` runs once when nothing
    was heard (``last_heard``) for ``timeout_sec``, and the stream stops sending.
    """

    def __init__(self, sock: socket.socket, payload_type: int, remote: tuple[str, int],
                 silence: bytes, loop: asyncio.AbstractEventLoop,
                 on_drained: Callable[[], None], on_timeout: Callable[[], None],
                 timeout_sec: float = 0.0) -> None:
        self.sock, self.payload_type, self.silence = sock, payload_type, silence
        self.remote = remote
        self._loop, self._on_drained, self._on_timeout = loop, on_drained, on_timeout
        self.timeout_sec = timeout_sec
        self.last_heard = time.monotonic()
        self.on_hold = False
        self.expired = False
        self.packets_out = 0
        self._queue: deque[bytes] = deque()
        self._ssrc = random.getrandbits(32)
        self._sequence = random.getrandbits(16)
        self._timestamp = random.getrandbits(32)
        self._marker = True

    @property
    def remote(self) -> tuple[str, int]:
        return self._remote

    @remote.setter
    def remote(self, value: tuple[str, int]) -> None:
        # one tuple, assigned at once: the pacer never sees an address with the old port
        self._remote = value
        self._target = (value, _sockaddr_in(value))

    # --- asyncio side ------------------------------------------------------------------------
    def queue(self, payloads: Iterable[bytes]) -> None:
        self._queue.extend(payloads)

    def flush(self) -> None:
        self._queue.clear()

    @property
    def pending(self) -> int:
        """Payloads queued and not sent yet."""
        return len(self._queue)

    # --- pacer thread ------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """This 20 ms slot: send the next payload or silence (nothing while on hold)."""
        if self.timeout_sec and now - self.last_heard > self.timeout_sec and not self.on_hold:
            self.expired = True
            self._loop.call_soon_threadsafe(self._on_timeout)
            return
        payload = self.silence
        if self._queue:
            with contextlib.suppress(IndexError):  # a flush may have emptied it meanwhile
                payload = self._queue.popleft()
                if not self._queue:
                    self._loop.call_soon_threadsafe(self._on_drained)
        if not self.on_hold:
            packet = RtpPacket(self.payload_type, self._sequence, self._timestamp, self._ssrc,
                               payload, self._marker)
            self._send(bytes(packet))
            self.packets_out += 1
            self._sequence += 1
            self._marker = False
        self._timestamp += SAMPLES_PER_PACKET

    def skip(self, slots: int) -> None:
        """Slots the pacer could not send: the timestamps still tell the time."""
        self._timestamp += slots * SAMPLES_PER_PACKET

    def _send(self, datagram: bytes) -> None:
        remote, sockaddr = self._target
        if _SENDTO is not None and sockaddr is not None:
            _SENDTO(self.sock.fileno(), datagram, len(datagram), _MSG_DONTWAIT, sockaddr,
                    len(sockaddr))  # a full buffer or an ICMP error: the packet is lost, as UDP
            return
        with contextlib.suppress(OSError):
            self.sock.sendto(datagram, remote)


class RtpPacer:
    """The thread ticking every ``PacedStream`` every 20 ms; ``start`` and ``stop`` once."""

    def __init__(self, period_sec: float = PACKET_SEC) -> None:
        self.period_sec = period_sec
        self._streams: tuple[PacedStream, ...] = ()  # replaced whole: the thread reads it unlocked
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.skipped_slots = 0  # slots never sent: the thread was held up too long

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rtp-pacer", daemon=True)
        self._thread.start()

    def stop(self, timeout_sec: float = 2.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_sec)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add(self, stream: PacedStream) -> None:
        with self._lock:
            self._streams = (*self._streams, stream)

    def remove(self, stream: PacedStream) -> None:
        with self._lock:
            self._streams = tuple(s for s in self._streams if s is not stream)

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # root: ahead of the pipelines' threads
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PACER_NICE)
        next_at = time.monotonic()
        while not self._stopping.wait(max(0.0, next_at - time.monotonic())):
            now = time.monotonic()
            behind = int((now - next_at) / self.period_sec)
            if behind > MAX_CATCH_UP_SLOTS:
                self.skipped_slots += behind
                for stream in self._streams:
                    stream.skip(behind)
                next_at += behind * self.period_sec
            while next_at <= now:  # this slot and the ones missed (a short stall): a burst
                self._tick(now)
                next_at += self.period_sec
        logger.debug("rtp pacer stopped")

    def _tick(self, now: float) -> None:
        expired = []
        for stream in self._streams:
            try:
                stream.tick(now)
            except Exception as exc:  # one broken stream must not silence the others
                logger.opt(exception=exc).error("rtp pacer: a stream failed")
                stream.expired = True
            if stream.expired:
                expired.append(stream)
        for stream in expired:
            self.remove(stream)
