"""The bridges' wire: chan_websocket and generic WebSocket messages, AudioSocket streams.

Each input goes through the pure parser and through the pipecat serializer the server
uses after the handshake; the serializer must never raise, and the audio it passes on
must be whole 16-bit samples (odd-sized buffers break VAD and resampling downstream).
"""

from __future__ import annotations

import asyncio
import json

from pipecat.frames.frames import Frame, InputAudioRawFrame

from callbot.bridge.audiosocket_server import AudioSocketConnection
from callbot.bridge.audiosocket_wire import AudioSocketError, AudioSocketMessage
from callbot.bridge.chan_websocket_wire import Command, ControlError, ControlEvent, command_text
from callbot.bridge.generic_wire import GenericMessage, GenericProtocolError, outgoing
from callbot.bridge.serializers import (
    AudioSocketSerializer,
    ChanWebsocketSerializer,
    GenericSerializer,
)
from callbot.fuzz.surface import FuzzFailure, Surface

#: First byte of an input: 0 means a BINARY WebSocket frame, anything else a TEXT frame.
BINARY_MARK = 0

_CHAN_SEEDS = (
    b"\x01MEDIA_START connection_id:abc channel:WebSocket/abc/0x1 format:ulaw "
    b"optimal_frame_size:160 ptime:20",
    b'\x01{"event": "MEDIA_START", "connection_id": "c1", "channel_id": "1700000000.1", '
    b'"format": "slin16", "optimal_frame_size": 640, "ptime": 20}',
    b"\x01DTMF_END digit:0 duration_ms:120",
    b'\x01{"event": "DTMF_END", "digit": "#"}',
    b"\x01MEDIA_XOFF", b"\x01MEDIA_XON", b"\x01HANGUP", b"\x01MEDIA_BUFFERING_COMPLETED",
    b'\x01{"event": "STATUS", "queue_length": 3, "xon_level": 10, "media_buffering": false}',
    b"\x00" + bytes(range(256)) * 2,
    b"\x00" + b"\xff\x7f" * 160,
)
_CHAN_TOKENS = (b"MEDIA_START", b"DTMF_END", b"HANGUP", b"MEDIA_XOFF", b"format:", b"slin16",
                b"connection_id:", b"channel_id", b'"event"', b"optimal_frame_size:", b" ")
_KNOWN_EVENTS = frozenset({"MEDIA_START", "DTMF_END", "HANGUP", "MEDIA_XOFF", "MEDIA_XON", "STATUS",
                           "MEDIA_BUFFERING_COMPLETED"})
_GENERIC_SEEDS = (
    b'\x01{"type": "start", "call_id": "abc-1", "caller": "+33612345678", "sample_rate": 8000}',
    b'\x01{"type": "start", "sample_rate": 16000}',
    b'\x01{"type": "dtmf", "digit": "0"}',
    b'\x01{"type": "stop"}',
    b"\x00" + bytes(640),
    b"\x00" + b"\x10\x27\xf0\xd8" * 80,
)
_GENERIC_TOKENS = (b'"type"', b'"start"', b'"dtmf"', b'"stop"', b'"sample_rate"', b"8000",
                   b"16000", b"8000.0", b'"digit"', b'"call_id"', b'"caller"', b"\\ud800")
_UUID = bytes.fromhex("0c1b8bde5f004c3b9a3e6c2f4a4b9d11")
_AUDIOSOCKET_SEEDS = (
    b"\x01\x00\x10" + _UUID + b"\x10\x01\x40" + bytes(320) + b"\x03\x00\x010" + b"\x00\x00\x00",
    b"\x01\x00\x10" + _UUID + b"\x10\x01\x40" + b"\x01\x80" * 160,
    b"\xff\x00\x01\x04", b"\x10\xff\xff" + bytes(64),
)
_AUDIOSOCKET_TOKENS = (b"\x10\x01\x40", b"\x03\x00\x01", b"\x01\x00\x10", b"\x00\x00\x00",
                       b"\x10\xff\xff", b"\x10\x3e\x80", b"\x10\x3e\x81", b"\xff\x00\x00")


def _whole_samples(frame: Frame | None) -> str:
    if isinstance(frame, InputAudioRawFrame):
        if len(frame.audio) % 2:
            raise FuzzFailure(f"{len(frame.audio)}-byte audio frame handed to the pipeline")
        return "audio"
    return "ignored" if frame is None else type(frame).__name__


def _text(data: bytes) -> str:
    """What aiohttp hands over for a TEXT frame: always valid UTF-8."""
    return data[1:].decode("utf-8", errors="replace")


async def feed_chan_websocket(data: bytes) -> str:
    for codec, rate in (("ulaw", 8000), ("alaw", 8000), ("slin", 8000), ("slin16", 16000)):
        serializer = ChanWebsocketSerializer(codec, rate, json_format=bool(data[-1:] == b"}"))
        payload = data[1:] if data[:1] == bytes([BINARY_MARK]) else _text(data)
        outcome = _whole_samples(await serializer.deserialize(payload))
    if data[:1] == bytes([BINARY_MARK]):
        return outcome
    event = ControlEvent.parse(_text(data))
    event.int_param("optimal_frame_size", 160)
    reply = command_text(Command.HANGUP, event.json_format, reason=event.name)
    if event.json_format:
        json.loads(reply)
    return f"event {event.name}" if event.name in _KNOWN_EVENTS else "other event"


async def feed_generic(data: bytes) -> str:
    serializer = GenericSerializer(8000)
    if data[:1] == bytes([BINARY_MARK]):
        return _whole_samples(await serializer.deserialize(data[1:]))
    outcome = _whole_samples(await serializer.deserialize(_text(data)))
    message = GenericMessage.parse(_text(data))
    outgoing("started", call_id=message.call_id).encode("utf-8")
    return f"{message.type} {outcome}"


class _NoWriter:
    """The AudioSocket connection only reads here."""

    def is_closing(self) -> bool:
        return True

    def close(self) -> None:
        return None

    async def wait_closed(self) -> None:
        return None


async def feed_audiosocket(data: bytes) -> str:
    """A whole TCP stream: cut into messages as the server does, each deserialized."""
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    connection = AudioSocketConnection(reader, _NoWriter())  # type: ignore[arg-type]
    serializer, messages = AudioSocketSerializer(), 0
    while (message := await connection.receive()) is not None:
        _whole_samples(await serializer.deserialize(message))
        parsed = AudioSocketMessage.parse(message)  # the server's handshake parse
        if bytes(parsed) != message:
            raise FuzzFailure("an AudioSocket message does not serialise back to its bytes")
        parsed.call_id if parsed.kind == 0x01 else parsed.digit  # noqa: B018
        messages += 1
    if messages == 0:
        raise AudioSocketError("no whole message in the stream")
    return "messages" if messages > 1 else "one message"


def wire_surfaces() -> list[Surface]:
    return [
        Surface("chan_websocket", feed_chan_websocket, _CHAN_SEEDS, _CHAN_TOKENS, (ControlError,)),
        Surface("generic", feed_generic, _GENERIC_SEEDS, _GENERIC_TOKENS,
                (GenericProtocolError,)),
        Surface("audiosocket", feed_audiosocket, _AUDIOSOCKET_SEEDS, _AUDIOSOCKET_TOKENS,
                (AudioSocketError,)),
    ]
