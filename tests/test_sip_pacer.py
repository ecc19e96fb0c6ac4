"""``RtpPacer``: every call's RTP sent from one thread on a 20 ms clock, to a real UDP receiver.

The asserts are about what arrives (order, payloads, counts), never about how fast: the
counts are compared with the slots elapsed, with the pacer's own tally of slots it skipped.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from callbot.sip.media import MAX_QUEUED_PACKETS, RtpMedia, bind_rtp_socket
from callbot.sip.pacer import MAX_CATCH_UP_SLOTS, PACKET_SEC, PacedStream, RtpPacer
from callbot.sip.rtp_wire import SAMPLES_PER_PACKET, RtpPacket

SILENCE = b"\xff" * SAMPLES_PER_PACKET


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    yield sock
    sock.close()


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = bind_rtp_socket("127.0.0.1", 40000, 60000)
    yield sock
    sock.close()


@pytest.fixture
def pacer() -> Iterator[RtpPacer]:
    pacer = RtpPacer()
    pacer.start()
    yield pacer
    pacer.stop()
    assert not pacer.running


def payload(number: int) -> bytes:
    return bytes([number]) * SAMPLES_PER_PACKET


async def receive(sock: socket.socket, count: int) -> list[RtpPacket]:
    """``count`` packets, read in a worker thread (the loop must run the pacer's callbacks)."""
    return [RtpPacket.parse(await asyncio.to_thread(sock.recv, 2048)) for _ in range(count)]


def make_stream(sender: socket.socket, receiver: socket.socket, **callbacks) -> PacedStream:
    loop = asyncio.get_running_loop()
    return PacedStream(sender, 0, receiver.getsockname(), SILENCE, loop,
                       callbacks.get("on_drained", lambda: None),
                       callbacks.get("on_timeout", lambda: None), callbacks.get("timeout", 0.0))


async def test_payloads_leave_in_order_then_silence(pacer: RtpPacer, sender: socket.socket,
                                                    receiver: socket.socket) -> None:
    drained = asyncio.Event()
    stream = make_stream(sender, receiver, on_drained=drained.set)
    stream.queue(payload(n) for n in range(1, 6))
    pacer.add(stream)
    packets = await receive(receiver, 8)
    assert [p.payload for p in packets] == [payload(n) for n in range(1, 6)] + [SILENCE] * 3
    first = packets[0]
    assert [p.sequence for p in packets] == [(first.sequence + i) & 0xFFFF for i in range(8)]
    assert [p.timestamp - first.timestamp for p in packets] == [
        i * SAMPLES_PER_PACKET for i in range(8)]
    assert [p.marker for p in packets] == [True] + [False] * 7
    assert {p.ssrc for p in packets} == {first.ssrc}
    await asyncio.wait_for(drained.wait(), 1.0)
    assert stream.pending == 0


async def test_flush_drops_what_has_not_left(pacer: RtpPacer, sender: socket.socket,
                                             receiver: socket.socket) -> None:
    stream = make_stream(sender, receiver)
    stream.queue(payload(1) for _ in range(500))  # 10 s of speech
    pacer.add(stream)
    await receive(receiver, 3)
    stream.flush()
    assert stream.pending == 0
    packets = await receive(receiver, 10)
    # at most the packets already sent or being built when the flush came, then silence only
    spoken = [p.payload == payload(1) for p in packets]
    assert spoken[-5:] == [False] * 5
    assert sum(spoken) <= MAX_CATCH_UP_SLOTS + 1


async def test_one_packet_per_slot_for_every_stream_even_after_a_stall(
        pacer: RtpPacer, sender: socket.socket, receiver: socket.socket) -> None:
    """Two calls plus one whose tick holds the thread 70 ms once (a stall shorter than the
    catch-up limit): the missed slots are sent late, in a burst, not dropped."""

    class Stalling(PacedStream):
        ticks = 0

        def tick(self, now: float) -> None:
            self.ticks += 1
            if self.ticks == 10:
                time.sleep(0.07)

    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    stalling = Stalling(other, 0, ("127.0.0.1", 9), SILENCE, asyncio.get_running_loop(),
                        lambda: None, lambda: None)
    first, second = make_stream(sender, receiver), make_stream(other, receiver)
    started = time.monotonic()
    skipped_before = pacer.skipped_slots
    for stream in (stalling, first, second):
        pacer.add(stream)
    await asyncio.sleep(1.0)
    for stream in (first, second):
        pacer.remove(stream)
    elapsed_slots = (time.monotonic() - started) / PACKET_SEC
    pacer.remove(stalling)
    other.close()
    receiver.settimeout(0.5)
    by_ssrc: dict[int, list[RtpPacket]] = {}
    with pytest.raises(TimeoutError):
        while True:
            packet = RtpPacket.parse(receiver.recv(2048))
            by_ssrc.setdefault(packet.ssrc, []).append(packet)
    assert stalling.ticks > 10
    assert len(by_ssrc) == 2
    skipped = pacer.skipped_slots - skipped_before
    for packets in by_ssrc.values():
        sequences = [p.sequence for p in packets]
        assert sequences == [(sequences[0] + i) & 0xFFFF for i in range(len(packets))]
        # the slots elapsed while registered, whatever the machine's load made of the thread
        assert abs(len(packets) + skipped - elapsed_slots) <= MAX_CATCH_UP_SLOTS + 2


async def test_media_timeout_and_drain_reach_the_loop(pacer: RtpPacer, sender: socket.socket,
                                                      receiver: socket.socket) -> None:
    """``RtpMedia`` on the pacer: queued audio drains, then a silent caller times out."""
    controls: list[tuple[str, str]] = []
    timed_out = asyncio.Event()

    def on_control(verb: str, argument: str) -> None:
        controls.append((verb, argument))
        timed_out.set()

    media = RtpMedia(sender, pacer, 0, None, receiver.getsockname(), 0.3, on_control)
    await media.open()
    media.queue_audio(payload(7) * 3 + b"\x01" * 10)  # 3 packets and a partial one kept back
    assert not media.drained.is_set()
    assert media.queued_sec == pytest.approx(3 * PACKET_SEC, abs=PACKET_SEC)
    await asyncio.wait_for(media.drained.wait(), 2.0)
    await asyncio.wait_for(timed_out.wait(), 3.0)
    assert controls == [("timeout", "rtp_timeout")]
    await media.shutdown()
    packets = await receive(receiver, 4)
    assert [p.payload for p in packets[:3]] == [payload(7)] * 3
    assert packets[3].payload == SILENCE


async def test_media_latches_to_the_first_source_and_bounds_its_queue(
        pacer: RtpPacer, sender: socket.socket, receiver: socket.socket) -> None:
    """Symmetric RTP answers the caller's real source; a stranger guessing the port is not
    heard, and a flood cannot grow the queue past ``MAX_QUEUED_PACKETS``."""
    media = RtpMedia(sender, pacer, 0, None, ("127.0.0.1", 9), 5.0, lambda verb, arg: None)
    caller, stranger = ("127.0.0.1", 40000), ("127.0.0.1", 40002)
    voice = bytes(RtpPacket(0, 1, 160, 5, payload(3)))
    media.datagram_received(voice, caller)
    assert media.stream.remote == caller
    media.datagram_received(bytes(RtpPacket(0, 2, 320, 6, payload(9))), stranger)
    assert (media.stream.remote, media.foreign_packets) == (caller, 1)
    assert await media.receive() == payload(3)  # the stranger's packet never reached the call
    for _ in range(MAX_QUEUED_PACKETS + 50):
        media.datagram_received(voice, caller)
    assert media._incoming.qsize() == MAX_QUEUED_PACKETS
    assert media.dropped_packets == 50
