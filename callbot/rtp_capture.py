"""The bot's RTP as the caller's side receives it: captured on the loopback, judged per stream.

Why a capture and not a UDP receiver: the SIP endpoint latches its RTP to where the caller's
packets come from (symmetric RTP), so it sends to sipp's media port, not to an address we could
put in the SDP. A packet socket on ``lo`` sees every packet the bot sends, wherever it goes,
stamped by the kernel on arrival (our own scheduling delays do not count as the bot's). A
classic BPF filter keeps only UDP packets from the bot's RTP port range. Needs root
(``CAP_NET_RAW``); ``RtpCapture.available()`` says whether it can run.

A stream is late where the receiver would have heard a hole: ``callbot.playout.Playout``
with a 20 ms jitter buffer, on a stream that never pauses (the bot sends silence between its
words), so a packet more than ~20 ms behind its slot (inter-arrival > 40 ms) is late.
Missing packets are holes in the sequence numbers or in time: a sender that skips the slots it
missed after a stall keeps its numbering contiguous, but the caller still heard nothing for
those 20 ms slots, so a stream of T seconds expects T / 20 ms packets.
"""

from __future__ import annotations

import ctypes
import math
import os
import socket
import struct
import threading
from dataclasses import dataclass, field

from callbot.playout import Playout
from callbot.sip.codecs import BY_PAYLOAD_TYPE, PayloadCoder
from callbot.sip.rtp_wire import PACKET_MS, RtpError, RtpPacket
from callbot.speech.audio import rms

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
PACKET_OUTGOING = 4
ETHERNET_HEADER_BYTES = 14  # the loopback interface carries an all-zero Ethernet header
UDP_HEADER_BYTES = 8
RECEIVE_BUFFER_BYTES = 16 << 20
POLL_SEC = 0.2
#: Below this RMS (16-bit PCM) a packet is silence, above it the bot is talking.
VOICED_RMS = 200
PACKET_SEC = PACKET_MS / 1000

# BPF opcodes (linux/filter.h) for the filter below.
_LD_W_ABS, _LD_H_ABS, _LD_B_ABS, _LD_H_IND, _LDX_MSH = 0x20, 0x28, 0x30, 0x48, 0xB1
_JEQ, _JGT, _JGE, _JSET, _RET = 0x15, 0x25, 0x35, 0x45, 0x06
_SKF_AD_PKTTYPE = 0xFFFFF000 + 4


def _bpf_udp_from_ports(port_min: int, port_max: int) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k): IPv4/UDP, not fragmented, not our own outgoing copy, source port in range."""
    return [
        (_LD_W_ABS, 0, 0, _SKF_AD_PKTTYPE),
        (_JEQ, 11, 0, PACKET_OUTGOING),  # lo shows each packet twice: keep the arrival
        (_LD_H_ABS, 0, 0, 12),
        (_JEQ, 0, 9, 0x0800),  # IPv4
        (_LD_B_ABS, 0, 0, 23),
        (_JEQ, 0, 7, socket.IPPROTO_UDP),
        (_LD_H_ABS, 0, 0, 20),
        (_JSET, 5, 0, 0x1FFF),  # a fragment
        (_LDX_MSH, 0, 0, ETHERNET_HEADER_BYTES),  # X = IP header length
        (_LD_H_IND, 0, 0, ETHERNET_HEADER_BYTES),  # UDP source port
        (_JGE, 0, 2, port_min),
        (_JGT, 1, 0, port_max),
        (_RET, 0, 0, 0xFFFF),
        (_RET, 0, 0, 0),
    ]


def _attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


@dataclass
class StreamStats:
    """One RTP stream the bot sent (one call), as received."""

    source_port: int
    received: int = 0
    sequence_holes: int = 0
    late: int = 0
    voiced: int = 0  # packets that are not silence
    first_sec: float = 0.0  # arrival of the first and last packets
    last_sec: float = 0.0

    @property
    def slots(self) -> int:
        """20 ms slots from the first packet to the last: what a continuous stream fills."""
        return round((self.last_sec - self.first_sec) / PACKET_SEC) + 1 if self.received else 0

    @property
    def missing(self) -> int:
        return max(self.sequence_holes, self.slots - self.received, 0)

    @property
    def expected(self) -> int:
        return self.received + self.missing


@dataclass
class _Stream:
    stats: StreamStats
    playout: Playout = field(default_factory=lambda: Playout(spurt_gap_sec=math.inf))
    last_sequence: int | None = None
    coder: PayloadCoder | None = None  # the stream's own: a G.722 decoder keeps state

    def add(self, arrival_sec: float, packet: RtpPacket) -> None:
        stats = self.stats
        if self.last_sequence is None:
            stats.first_sec = arrival_sec
        else:
            step = (packet.sequence - self.last_sequence) & 0xFFFF
            if step == 0 or step > 0x8000:  # a duplicate or a packet overtaken: no new slot
                return
            stats.sequence_holes += step - 1
        self.last_sequence = packet.sequence
        stats.received += 1
        stats.last_sec = arrival_sec
        if self.playout.arrive(arrival_sec, PACKET_SEC):
            stats.late += 1
        if self.coder is None:
            self.coder = BY_PAYLOAD_TYPE[packet.payload_type].coder()
        if rms(self.coder.decode(packet.payload)) > VOICED_RMS:
            stats.voiced += 1


class RtpCapture:
    """Capture, in a thread, every RTP packet sent from ``port_min``–``port_max`` on ``lo``."""

    def __init__(self, port_min: int, port_max: int, interface: str = "lo") -> None:
        self.port_min, self.port_max, self.interface = port_min, port_max, interface
        self._streams: dict[tuple[int, int], _Stream] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.unusable = 0

    @staticmethod
    def available() -> bool:
        return hasattr(socket, "AF_PACKET") and os.geteuid() == 0

    def __enter__(self) -> RtpCapture:
        # Protocol 0 receives nothing until bound: the filter is in place before any packet.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        _attach_filter(sock, _bpf_udp_from_ports(self.port_min, self.port_max))
        sock.bind((self.interface, ETH_P_ALL))
        sock.settimeout(POLL_SEC)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="rtp-capture", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()

    def streams(self) -> list[StreamStats]:
        # list() copies the dict in one go: the capture thread may add a stream meanwhile
        return [stream.stats for stream in list(self._streams.values())]

    def _run(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                frame, ancillary, _flags, _address = self._sock.recvmsg(2048, 64)
            except TimeoutError:
                continue
            except OSError:
                return
            arrival = next((_timespec_sec(data) for level, kind, data in ancillary
                            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS), None)
            self._packet(frame, arrival)

    def _packet(self, frame: bytes, arrival: float | None) -> None:
        ip_header = (frame[ETHERNET_HEADER_BYTES] & 0x0F) * 4
        udp = ETHERNET_HEADER_BYTES + ip_header
        try:
            packet = RtpPacket.parse(frame[udp + UDP_HEADER_BYTES:])
        except RtpError:
            self.unusable += 1
            return
        if arrival is None or packet.payload_type not in BY_PAYLOAD_TYPE:
            return  # telephone events and the like have no audio slot
        (source_port,) = struct.unpack_from("!H", frame, udp)
        key = (source_port, packet.ssrc)
        if key not in self._streams:
            self._streams[key] = _Stream(StreamStats(source_port))
        self._streams[key].add(arrival, packet)


def _timespec_sec(data: bytes) -> float:
    seconds, nanoseconds = struct.unpack("qq", data[:16])
    return seconds + nanoseconds / 1e9


def late_or_missing_ratio(streams: list[StreamStats]) -> float | None:
    expected = sum(s.expected for s in streams)
    return (sum(s.late + s.missing for s in streams) / expected) if expected else None
