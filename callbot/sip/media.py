"""The RTP leg of one SIP call over asyncio UDP, seen by the pipeline as a ``BridgeConnection``.

Why our own and not sippy's RTP: symmetric RTP (we answer to the address the caller's packets
really come from, which NAT and SBCs rewrite), a steady 20 ms clock for what we send (the
process's ``RtpPacer`` thread, out of the event loop: see ``callbot.sip.pacer``), and a flush
for barge-in. Messages handed to the pipeline (``receive``): payload bytes of the call's codec
(G.711 or G.722), or a text event ``dtmf:<digit>`` / ``hangup:<reason>``. Messages from it
(``send``): payload bytes to play, or text ``flush`` / ``transfer:<reason>`` /
``hangup:<reason>`` (see ``SipSerializer``).
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Callable

from loguru import logger

from callbot.bridge.transport import Pacing
from callbot.sip.pacer import PACKET_SEC, PacedStream, RtpPacer
from callbot.sip.rtp_wire import SAMPLES_PER_PACKET, DtmfDetector, RtpError, RtpPacket

#: The pipeline queues the bot's audio this far ahead of the pacer, so that an event-loop stall
#: does not starve it; barge-in flushes the queue, so the caller hears none of it afterwards.
#: Caller audio waiting for the pipeline (5 s at 50 packets/s); beyond, packets are dropped.
MAX_QUEUED_PACKETS = 250
SIP_PACING = Pacing(send_ahead_sec=0.2, frame_ms=40)


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
    """One call's RTP: receive, DTMF, latching, timeout; sending is ``PacedStream``'s, in the
    pacer's thread. Built in the event loop, on the socket of ``bind_rtp_socket``."""

    def __init__(self, sock: socket.socket, pacer: RtpPacer, payload_type: int,
                 event_type: int | None, remote: tuple[str, int], timeout_sec: float,
                 on_control: Callable[[str, str], None], log=logger,
                 silence: bytes = b"\xff" * SAMPLES_PER_PACKET) -> None:  # Codec.silence
        self.payload_type, self.event_type = payload_type, event_type
        self._sock, self._pacer = sock, pacer
        self._on_control = on_control  # (verb, argument) for transfer / hangup
        self._log = log
        self._incoming: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self.drained = asyncio.Event()  # set whenever everything queued has been sent
        self.drained.set()
        self.stream = PacedStream(sock, payload_type, remote, silence, asyncio.get_running_loop(),
                                  self._on_drained, self._on_timeout, timeout_sec)
        self._partial = b""
        self._dtmf = DtmfDetector()
        self._transport: asyncio.DatagramTransport | None = None
        self._latched = False
        self._ended = False
        self.packets_in = self.bad_packets = self.foreign_packets = self.dropped_packets = 0

    # --- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=self._sock)
        self._pacer.add(self.stream)

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
        self._pacer.remove(self.stream)
        if self._transport is not None:
            self._transport.close()
        self._log.info(f"rtp: {self.packets_in} packets in, {self.stream.packets_out} out, "
                       f"{self.bad_packets} unusable, {self.foreign_packets} from strangers, "
                       f"{self.dropped_packets} dropped (queue full)")

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
        if whole:
            self.drained.clear()
            self.stream.queue([data[i:i + SAMPLES_PER_PACKET]
                               for i in range(0, whole, SAMPLES_PER_PACKET)])
        self._partial = data[whole:]

    def flush(self) -> None:
        """Barge-in: what has not left yet is dropped."""
        self.stream.flush()
        self._partial = b""
        self.drained.set()

    def retarget(self, remote: tuple[str, int], on_hold: bool) -> None:
        """A re-INVITE moved or held the media: send there, and latch again."""
        self.stream.remote, self._latched, self.stream.on_hold = remote, False, on_hold
        self.stream.last_heard = time.monotonic()

    @property
    def remote(self) -> tuple[str, int]:
        return self.stream.remote

    @property
    def queued_sec(self) -> float:
        return self.stream.pending * PACKET_SEC

    # --- from the pacer thread, run in the loop ----------------------------------------------
    def _on_drained(self) -> None:
        if not self.stream.pending:  # nothing queued since the pacer sent the last payload
            self.drained.set()

    def _on_timeout(self) -> None:
        self._log.warning(f"rtp: no media for {self.stream.timeout_sec:.0f} s")
        self._on_control("timeout", "rtp_timeout")

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
            if addr != self.stream.remote:
                self._log.info(f"rtp: latched to the caller's source {addr[0]}:{addr[1]}")
                self.stream.remote = addr
            self._latched = True
        elif addr != self.stream.remote:  # strict: once latched, nobody else speaks in the call
            self.foreign_packets += 1
            if self.foreign_packets == 1:
                self._log.warning(f"rtp: packets from {addr[0]}:{addr[1]}, not the caller: dropped")
            return
        self.stream.last_heard = time.monotonic()
        self.packets_in += 1
        if self._ended:
            return
        if packet.payload_type == self.payload_type:
            if self._incoming.qsize() >= MAX_QUEUED_PACKETS:  # a flood, or a stalled pipeline
                self.dropped_packets += 1
                return
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
