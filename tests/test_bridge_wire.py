"""Wire formats of the bridges: parse → serialise → same bytes, exact error messages."""

from __future__ import annotations

import json

import pytest

from callbot.bridge.audiosocket_wire import AudioSocketError, AudioSocketMessage, Kind, read_header
from callbot.bridge.chan_websocket_wire import Command, ControlError, ControlEvent, command_text
from callbot.bridge.generic_wire import GenericMessage, GenericProtocolError

CALL_UUID = "0c1b8bde-5f00-4c3b-9a3e-6c2f4a4b9d11"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x01\x00\x10" + bytes.fromhex("0c1b8bde5f004c3b9a3e6c2f4a4b9d11"),
        b"\x03\x00\x01" + b"0",
        b"\x10\x01\x40" + bytes(320),
        b"\x00\x00\x00",
        b"\xff\x00\x01\x04",
    ],
)
def test_audiosocket_round_trip(raw: bytes) -> None:
    assert bytes(AudioSocketMessage.parse(raw)) == raw


def test_audiosocket_fields() -> None:
    assert AudioSocketMessage.uuid(CALL_UUID).call_id == CALL_UUID
    assert AudioSocketMessage.parse(b"\x03\x00\x01#").digit == "#"
    assert read_header(b"\x10\x01\x40") == (Kind.AUDIO, 320)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x07\x00\x00", "unknown message kind 0x07"),
        (b"\x10\xff\xff", "payload of 65535 bytes exceeds 16000"),
        (b"\x10\x00\x04\x00\x00", "header announces 4 bytes, got 2"),
        (b"\x01\x00\x02ab", "call id must be 16 bytes, got 2"),
        (b"\x10\x00\x03abc", "16-bit audio payload has an odd number of bytes"),
        (b"\x10", "header must be 3 bytes, got 1"),
    ],
)
def test_audiosocket_errors(raw: bytes, message: str) -> None:
    with pytest.raises(AudioSocketError) as error:
        AudioSocketMessage.parse(raw)
    assert str(error.value) == message


def test_chan_websocket_plain_and_json_events() -> None:
    plain = ControlEvent.parse("MEDIA_START connection_id:abc channel:WebSocket/abc/0x1 "
                               "format:ulaw optimal_frame_size:160 ptime:20")
    assert plain.name == "MEDIA_START" and plain.params["format"] == "ulaw"
    assert plain.int_param("optimal_frame_size", 0) == 160 and not plain.json_format
    event = ControlEvent.parse(json.dumps({"event": "MEDIA_START", "connection_id": "c1",
                                           "format": "slin16", "optimal_frame_size": 640}))
    assert event.json_format and event.params["format"] == "slin16"
    assert ControlEvent.parse("DTMF_END digit:0").params == {"digit": "0"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty control message"),
        ("MEDIA_START format", "parameter 'format' is not key:value"),
        ('{"event": 3}', 'JSON control message needs an "event" string'),
        ("{not json", "invalid JSON control message: Expecting property name enclosed in double quotes"),
        ("x" * 9000, "control message longer than 8192 characters"),
    ],
)
def test_chan_websocket_errors(text: str, message: str) -> None:
    with pytest.raises(ControlError) as error:
        ControlEvent.parse(text)
    assert str(error.value) == message


def test_chan_websocket_commands_follow_the_peer_format() -> None:
    assert command_text(Command.FLUSH_MEDIA, False) == "FLUSH_MEDIA"
    assert json.loads(command_text(Command.HANGUP, True)) == {"command": "HANGUP"}


def test_generic_protocol() -> None:
    start = GenericMessage.parse('{"type": "start", "call_id": "c1", "sample_rate": 16000}')
    assert (start.type, start.call_id, start.sample_rate) == ("start", "c1", 16000)
    assert GenericMessage.parse('{"type": "dtmf", "digit": "0"}').digit == "0"
    for text, message in [
        ('{"type": "start", "sample_rate": 44100}', "sample_rate 44100 not supported (use 8000 or 16000)"),
        ('{"type": "dtmf", "digit": "x"}', "dtmf digit 'x' is not one of 0-9 * # A-D"),
        ('{"type": "dance"}', "unknown message type 'dance'"),
        ("[]", 'a control message needs a "type" string'),
    ]:
        with pytest.raises(GenericProtocolError) as error:
            GenericMessage.parse(text)
        assert str(error.value) == message
