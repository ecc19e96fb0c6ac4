"""RTP packets (RFC 3550) and telephone events (RFC 4733): bytes in, bytes out, no I/O.

Only what a telephone call needs: the fixed header (CSRCs, a header extension and padding
are skipped on input, never produced), the static payload types of G.711 and G.722, and the
4-byte DTMF event payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER_BYTES = 12
PT_PCMU = 0
PT_PCMA = 8
PT_G722 = 9
#: The RTP payload type of each G.711 codec, by the names callbot.bridge.g711 uses.
CODEC_BY_PT = {PT_PCMU: "ulaw", PT_PCMA: "alaw"}
#: SDP encoding names of the static payload types we speak (callbot.sip.codecs codes them).
STATIC_CODECS = {PT_PCMU: "PCMU", PT_PCMA: "PCMA", PT_G722: "G722"}
#: The RTP clock of all three. G.722 samples at 16 kHz, yet its RTP clock and SDP rate are
#: 8000 (RFC 3551 §4.5.2, a historical error kept for interoperability): a=rtpmap:9 G722/8000.
CLOCK_RATE_HZ = 8000
PACKET_MS = 20
#: Timestamp units per packet, and payload bytes per packet of G.711 (8 bits × 8 kHz) and of
#: G.722 alike (64 kbit/s: 160 bytes per 20 ms).
SAMPLES_PER_PACKET = CLOCK_RATE_HZ * PACKET_MS // 1000

_HEADER = struct.Struct("!BBHII")
_EVENT = struct.Struct("!BBH")
#: RFC 4733 events 0–15: the keypad.
DTMF_DIGITS = "0123456789*#ABCD"


class RtpError(ValueError):
    """A datagram that is not a usable RTP packet; the message says why."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < HEADER_BYTES:
            raise RtpError(f"RTP packet too short ({len(data)} bytes)")
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {first >> 6} not supported")
        start = HEADER_BYTES + 4 * (first & 0x0F)  # CSRC list
        if first & 0x10:  # header extension: 4 bytes + length words
            if len(data) < start + 4:
                raise RtpError("RTP header extension truncated")
            (words,) = struct.unpack_from("!H", data, start + 2)
            start += 4 + 4 * words
        end = len(data)
        if first & 0x20:  # padding: the last byte says how much
            end -= data[-1]
        if start > end:
            raise RtpError("RTP header longer than the packet")
        return cls(second & 0x7F, sequence, timestamp, ssrc, bytes(data[start:end]),
                   bool(second & 0x80))

    def __bytes__(self) -> bytes:
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return _HEADER.pack(RTP_VERSION << 6, second, self.sequence & 0xFFFF,
                            self.timestamp & 0xFFFFFFFF, self.ssrc & 0xFFFFFFFF) + self.payload


@dataclass(frozen=True)
class TelephoneEvent:
    """One RFC 4733 event payload; a key press is sent as several, the last ones with ``end``."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0  # in timestamp units (1/8000 s)

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < _EVENT.size:
            raise RtpError(f"telephone-event payload too short ({len(payload)} bytes)")
        event, flags, duration = _EVENT.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        return _EVENT.pack(self.event, (0x80 if self.end else 0) | (self.volume & 0x3F),
                           self.duration & 0xFFFF)

    @property
    def digit(self) -> str | None:
        """The keypad key, or None for the other events (flash, tones)."""
        return DTMF_DIGITS[self.event] if self.event < len(DTMF_DIGITS) else None


class DtmfDetector:
    """Turns the stream of telephone-event packets into one digit per key press.

    A press repeats its packets (same RTP timestamp) and its end packet three times; the
    digit is reported once, on the first end packet of that timestamp.
    """

    def __init__(self) -> None:
        self._reported: int | None = None

    def feed(self, packet: RtpPacket) -> str | None:
        event = TelephoneEvent.parse(packet.payload)
        if not event.end or packet.timestamp == self._reported:
            return None
        self._reported = packet.timestamp
        return event.digit
