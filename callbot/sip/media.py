"""The RTP leg of one SIP call over asyncio UDP, seen by the pipeline as a ``BridgeConnection``.

Why our own and not sippy's RTP: symmetric RTP (we answer to the address the caller's packets
really come from, which NAT and SBCs rewrite), a steady 20 ms clock for what we send, and a
flush for barge-in. Messages handed to the pipeline (``receive``): G.711 payload bytes, or a
text event ``dtmf:<digit>`` / ``hangup:<reason>``. Messages from it (``send``): G.711 bytes to
play, or text ``flush`` / ``transfer:<reason>`` / ``hangup:<reason>`` (see ``SipSerializer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections import deque
from collections.abc import Callable

from loguru import logger

from callbot.sip.rtp_wire import (
    PACKET_MS,
    SAMPLES_PER_PACKET,
    DtmfDetector,
    RtpError,
    RtpPacket,
)

#: The value of a silent sample in each codec (what we send while the bot listens).
SILENCE_BYTE = {0: b"\xff", 8: b"\xd5"}
PACKET_SEC = PACKET_MS / 1000


def bind_rtp_socket(host: str, port_min: int, port_max: int) -> socket.socket:
    """A UDP socket on a free even port of the range (RTCP would take the odd one)."""
    ports = list(range(port_min + port_min % 2, port_max + 1, 2))
    random.shuffle(ports)
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        sock.setblocking(False)
        return sock
    raise OSError(f"no free RTP port between {port_min} and {port_max}")


class RtpMedia(asyncio.DatagramProtocol):
    """One call's RTP: receive, DTMF, latching, paced sending, timeout."""

    def __init__(self, payload_type: int, event_type: int | None, remote: tuple[str, int],
                 timeout_sec: float, on_control: Callable[[str, str], None], log=logger) -> None:
        self.payload_type, self.event_type = payload_type, event_type
        self.remote = remote
        self.timeout_sec = timeout_sec
        self._on_control = on_control  # (verb, argument) for transfer / hangup
        self._log = log
        self._incoming: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self._outgoing: deque[bytes] = deque()
        self.drained = asyncio.Event()  # set whenever everything queued has been sent
        self._partial = b""
        self._dtmf = DtmfDetector()
        self._transport: asyncio.DatagramTransport | None = None
        self._sender: asyncio.Task | None = None
        self._latched = False
        self._ended = False
        self.on_hold = False
        self.last_packet_at = time.monotonic()
        self.packets_in = self.packets_out = self.bad_packets = 0
        self._ssrc = random.getrandbits(32)
        self._sequence = random.getrandbits(16)
        self._timestamp = random.getrandbits(32)

    # --- lifecycle ---------------------------------------------------------------------------
    async def open(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self._sender = asyncio.create_task(self._send_loop(), name="rtp-sender")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def end(self, reason: str) -> None:
        """The call is over for the pipeline (BYE, CANCEL, RTP timeout)."""
        if not self._ended:
            self._ended = True
            self._incoming.put_nowait(f"hangup:{reason}")
            self._incoming.put_nowait(None)

    def push_event(self, message: str) -> None:
        """An event from signalling for the pipeline (SIP INFO DTMF)."""
        if not self._ended:
            self._incoming.put_nowait(message)

    async def shutdown(self) -> None:
        """Stop sending and close the socket: the end of the SIP call, not of the pipeline."""
        self.end("closed")
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        if self._transport is not None:
            self._transport.close()
        self._log.info(f"rtp: {self.packets_in} packets in, {self.packets_out} out, "
                       f"{self.bad_packets} unusable")

    # --- BridgeConnection --------------------------------------------------------------------
    async def receive(self) -> bytes | str | None:
        return await self._incoming.get()

    async def send(self, data: bytes | str) -> None:
        if isinstance(data, bytes):
            self.queue_audio(data)
            return
        verb, _, argument = data.partition(":")
        if verb == "flush":
            self.flush()
        else:
            self._on_control(verb, argument)

    async def close(self) -> None:
        """The pipeline is done; the SIP call (and this socket) may live on (transfer)."""
        self.end("pipeline_closed")

    # --- audio out ---------------------------------------------------------------------------
    def queue_audio(self, payload: bytes) -> None:
        data = self._partial + payload
        whole = len(data) - len(data) % SAMPLES_PER_PACKET
        self._outgoing.extend(data[i:i + SAMPLES_PER_PACKET]
                              for i in range(0, whole, SAMPLES_PER_PACKET))
        self._partial = data[whole:]
        if self._outgoing:
            self.drained.clear()

    def flush(self) -> None:
        """Barge-in: what has not left yet is dropped."""
        self._outgoing.clear()
        self._partial = b""
        self.drained.set()

    def retarget(self, remote: tuple[str, int], on_hold: bool) -> None:
        """A re-INVITE moved or held the media: send there, and latch again."""
        self.remote, self._latched, self.on_hold = remote, False, on_hold
        self.last_packet_at = time.monotonic()

    @property
    def queued_sec(self) -> float:
        return len(self._outgoing) * PACKET_SEC

    async def _send_loop(self) -> None:
        """One packet every 20 ms on an absolute clock; silence when the bot has nothing to say."""
        silence = SILENCE_BYTE.get(self.payload_type, b"\xff") * SAMPLES_PER_PACKET
        next_at = time.monotonic()
        marker = True
        while True:
            now = time.monotonic()
            if now - self.last_packet_at > self.timeout_sec and not self.on_hold:
                self._log.warning(f"rtp: no media for {self.timeout_sec:.0f} s")
                self._on_control("timeout", "rtp_timeout")
                return
            payload = self._outgoing.popleft() if self._outgoing else silence
            if not self._outgoing:
                self.drained.set()
            if self._transport is not None and not self.on_hold:
                packet = RtpPacket(self.payload_type, self._sequence, self._timestamp, self._ssrc,
                                   payload, marker)
                self._transport.sendto(bytes(packet), self.remote)
                self.packets_out += 1
                self._sequence += 1
                marker = False
            self._timestamp += SAMPLES_PER_PACKET
            next_at += PACKET_SEC
            if next_at < now - 5 * PACKET_SEC:  # the loop stalled: restart the clock
                next_at = now
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    # --- audio in ----------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = RtpPacket.parse(data)
        except RtpError as exc:
            self.bad_packets += 1
            if self.bad_packets <= 3:
                self._log.debug(f"rtp: {exc}")
            return
        if not self._latched:  # symmetric RTP: answer where the media really comes from
            if addr != self.remote:
                self._log.info(f"rtp: latched to the caller's source {addr[0]}:{addr[1]}")
            self.remote, self._latched = addr, True
        self.last_packet_at = time.monotonic()
        self.packets_in += 1
        if self._ended:
            return
        if packet.payload_type == self.payload_type:
            self._incoming.put_nowait(packet.payload)
        elif packet.payload_type == self.event_type and self.event_type is not None:
            try:
                digit = self._dtmf.feed(packet)
            except RtpError as exc:
                self._log.debug(f"rtp: {exc}")
                return
            if digit is not None:
                self._log.info(f"rtp: DTMF {digit}")
                self._incoming.put_nowait(f"dtmf:{digit}")
