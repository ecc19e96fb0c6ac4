"""Hostile bytes on the bridges' wire: chan_websocket, generic protocol, AudioSocket, RTP.

Hypothesis drives the same surfaces as ``callbot bench fuzz`` (callbot/fuzz/wire_surfaces.py):
no exception but the parser's own error with a message, no torn audio sample handed on.
The exact messages of the refusals found by fuzzing are pinned below.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbot.bridge.audiosocket_wire import AudioSocketError, read_header
from callbot.bridge.chan_websocket_wire import ControlError, ControlEvent
from callbot.bridge.generic_wire import GenericMessage, GenericProtocolError
from callbot.bridge.limits import BridgeLimits, FloodGuard
from callbot.fuzz.rtp_surface import rtp_surface
from callbot.fuzz.wire_surfaces import wire_surfaces
from tests.fuzz_support import examples, feed, mutated, quiet_refusals  # noqa: F401

CHAN, GENERIC, AUDIOSOCKET = wire_surfaces()
RTP = rtp_surface()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12)
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)


@examples(1500)
@given(mutated(CHAN))
def test_chan_websocket_mutated(data: bytes) -> None:
    feed(CHAN, data)


@examples(300)
@given(st.one_of(TEXT.map(lambda t: b"\x01" + t.encode()), st.binary(max_size=640)
                 .map(lambda b: b"\x00" + b),
                 st.dictionaries(st.sampled_from(["event", "format", "channel_id", "digit",
                                                  "connection_id", "optimal_frame_size"]),
                                 JSON_VALUES).map(lambda d: b"\x01" + json.dumps(d).encode())))
def test_chan_websocket_structured(data: bytes) -> None:
    feed(CHAN, data)


@examples(1500)
@given(mutated(GENERIC))
def test_generic_mutated(data: bytes) -> None:
    feed(GENERIC, data)


@examples(300)
@given(st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["start", "dtmf", "stop"])},
                          optional={"call_id": JSON_VALUES, "caller": JSON_VALUES,
                                    "sample_rate": JSON_VALUES, "digit": JSON_VALUES})
    .map(lambda d: b"\x01" + json.dumps(d).encode()),
    st.binary(max_size=640).map(lambda b: b"\x00" + b), TEXT.map(lambda t: b"\x01" + t.encode())))
def test_generic_structured(data: bytes) -> None:
    feed(GENERIC, data)


@examples(1000)
@given(mutated(AUDIOSOCKET))
def test_audiosocket_stream_mutated(data: bytes) -> None:
    feed(AUDIOSOCKET, data)


@examples(300)
@given(st.lists(st.tuples(st.sampled_from([0x00, 0x01, 0x03, 0x10, 0xFF, 0x02, 0x11]),
                          st.binary(max_size=400)), min_size=1, max_size=6)
       .map(lambda ms: b"".join(bytes([k]) + len(p).to_bytes(2, "big") + p for k, p in ms)))
def test_audiosocket_well_framed_streams(data: bytes) -> None:
    feed(AUDIOSOCKET, data)


@examples(1000)
@given(mutated(RTP) | st.binary(max_size=300)
       | st.binary(min_size=12, max_size=200).map(lambda b: bytes([0x80 | b[0] & 0x3F]) + b[1:]))
def test_rtp_datagrams(data: bytes) -> None:
    """The SIP endpoint's RTP parser (callbot/sip/rtp_wire.py, read-only here)."""
    feed(RTP, data)


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (ControlEvent.parse, '{"event": "X", "n": ' + "1" * 5000 + "}",
         "invalid JSON control message: Exceeds the limit (4300 digits) for integer string "
         "conversion"),
        (ControlEvent.parse, '{"event": "X", "n": ' + "[" * 3000 + "]" * 3000 + "}",
         "invalid JSON control message: nested too deeply"),
        (ControlEvent.parse, '{"event": "X", "n": "\\ud800"}',
         "invalid JSON control message: a string holds a lone surrogate (\\udXXX)"),
        (GenericMessage.parse, "[" * 2000 + "]" * 2000, "invalid JSON: nested too deeply"),
        (GenericMessage.parse, '{"type": "start", "sample_rate": 8000.0}',
         "sample_rate 8000.0 not supported (use 8000 or 16000)"),
        (GenericMessage.parse, '{"type": "start", "sample_rate": true}',
         "sample_rate True not supported (use 8000 or 16000)"),
        (GenericMessage.parse, '{"type": "start", "call_id": "' + "x" * 65 + '"}',
         "call_id must be printable text of at most 64 characters"),
        (GenericMessage.parse, '{"type": "start", "caller": "06\\n12"}',
         "caller must be printable text of at most 64 characters"),
        (GenericMessage.parse, '{"type": "start", "caller": ["+33"]}',
         "caller must be printable text of at most 64 characters"),
    ],
)
def test_refusals_found_by_fuzzing(parse: object, text: str, message: str) -> None:
    with pytest.raises((ControlError, GenericProtocolError)) as error:
        parse(text)  # type: ignore[operator]
    assert str(error.value) == message


def test_generic_numbers_are_accepted_as_ids() -> None:
    start = GenericMessage.parse('{"type": "start", "call_id": 42, "caller": 33612345678}')
    assert (start.call_id, start.caller) == ("42", "33612345678")


def test_asterisk_call_id_must_be_short_printable() -> None:
    assert ControlEvent.parse("MEDIA_START channel_id:1700000000.1").call_id() == "1700000000.1"
    long = ControlEvent.parse("MEDIA_START connection_id:" + "a" * 65)
    assert long.call_id() is None
    odd = ControlEvent.parse('{"event": "MEDIA_START", "channel_id": "a\\u0007", '
                             '"connection_id": "c1"}')
    assert odd.call_id() == "c1"


def test_audiosocket_payload_limit_is_a_setting() -> None:
    assert read_header(b"\x10\x01\x40", max_payload=320) == (0x10, 320)
    with pytest.raises(AudioSocketError, match="payload of 322 bytes exceeds 320"):
        read_header(b"\x10\x01\x42", max_payload=320)


def test_flood_guard_counts_messages_and_bytes_per_second() -> None:
    guard = FloodGuard(BridgeLimits(max_messages_per_sec=3, max_bytes_per_sec=1000))
    assert [guard.admit(100, 10.0 + i * 0.1) for i in range(3)] == [None, None, None]
    assert guard.admit(100, 10.35) == "more than 3 messages in one second"
    assert guard.admit(100, 11.0) is None  # a new second
    assert guard.admit(901, 11.5) == "more than 1000 bytes in one second"
    fresh = FloodGuard(BridgeLimits())
    assert all(fresh.admit(320, i * 0.02) is None for i in range(50 * 60))  # a minute of audio
