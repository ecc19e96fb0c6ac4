"""Asterisk AudioSocket wire format: 1 byte kind, 2 bytes big-endian length, payload.

Pure: no I/O, no asyncio. ``AudioSocketMessage.parse`` takes exactly one message;
``read_header`` tells a stream reader how many payload bytes follow.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum

HEADER_BYTES = 3
#: Largest payload we accept; Asterisk sends 320-byte (20 ms) slin frames.
MAX_PAYLOAD_BYTES = 16_000
SAMPLE_RATE_HZ = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE_HZ * FRAME_MS // 1000 * 2  # 320: 20 ms of 16-bit mono


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


class AudioSocketError(ValueError):
    """A message that is not valid AudioSocket; the text says exactly why."""


def read_header(header: bytes, max_payload: int = MAX_PAYLOAD_BYTES) -> tuple[Kind, int]:
    """Kind and payload length from the 3 header bytes."""
    if len(header) != HEADER_BYTES:
        raise AudioSocketError(f"header must be {HEADER_BYTES} bytes, got {len(header)}")
    raw_kind, length = struct.unpack("!BH", header)
    try:
        kind = Kind(raw_kind)
    except ValueError:
        raise AudioSocketError(f"unknown message kind 0x{raw_kind:02x}") from None
    if length > min(max_payload, MAX_PAYLOAD_BYTES):
        raise AudioSocketError(f"payload of {length} bytes exceeds "
                               f"{min(max_payload, MAX_PAYLOAD_BYTES)}")
    return kind, length


@dataclass(frozen=True)
class AudioSocketMessage:
    kind: Kind
    payload: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> AudioSocketMessage:
        kind, length = read_header(data[:HEADER_BYTES])
        payload = data[HEADER_BYTES:]
        if len(payload) != length:
            raise AudioSocketError(f"header announces {length} bytes, got {len(payload)}")
        message = cls(kind, payload)
        message.validate()
        return message

    def validate(self) -> None:
        if self.kind is Kind.UUID and len(self.payload) != 16:
            raise AudioSocketError(f"call id must be 16 bytes, got {len(self.payload)}")
        if self.kind is Kind.DTMF and len(self.payload) != 1:
            raise AudioSocketError(f"DTMF must be 1 byte, got {len(self.payload)}")
        if self.kind is Kind.AUDIO and len(self.payload) % 2:
            raise AudioSocketError("16-bit audio payload has an odd number of bytes")

    def __bytes__(self) -> bytes:
        return struct.pack("!BH", self.kind, len(self.payload)) + self.payload

    @property
    def call_id(self) -> str:
        return str(uuid.UUID(bytes=self.payload))

    @property
    def digit(self) -> str:
        return self.payload.decode("ascii", errors="replace")

    @classmethod
    def audio(cls, pcm: bytes) -> AudioSocketMessage:
        return cls(Kind.AUDIO, pcm)

    @classmethod
    def hangup(cls) -> AudioSocketMessage:
        return cls(Kind.HANGUP)

    @classmethod
    def uuid(cls, call_id: str) -> AudioSocketMessage:
        return cls(Kind.UUID, uuid.UUID(call_id).bytes)

    @classmethod
    def dtmf(cls, digit: str) -> AudioSocketMessage:
        return cls(Kind.DTMF, digit.encode("ascii"))
