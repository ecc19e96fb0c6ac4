"""The SIP endpoint's pure wire formats: RTP headers, RFC 4733 events, G.711, SDP offer/answer."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from callbot.bridge import g711
from callbot.sip.rtp_wire import (
    DtmfDetector,
    RtpError,
    RtpPacket,
    TelephoneEvent,
)
from callbot.sip.sdp import SdpError, SdpOffer, answer

FIXTURES = Path(__file__).parent / "fixtures" / "sip"
#: A PCMU packet: V=2, marker, PT=0, seq 0x1234, timestamp 160, SSRC 0xdeadbeef, 4 payload bytes.
SIPP_PACKET = bytes.fromhex("80801234000000a0deadbeef") + b"\xff\xfe\x7f\x00"
#: An RFC 4733 end-of-event for "0": event 0, E=1, volume 10, duration 800 (100 ms).
DTMF_ZERO_END = bytes.fromhex("008a0320")

#: An offer as Asterisk writes it (PCMA first, then PCMU, G.722 and telephone-event).
ASTERISK_OFFER = """v=0
o=- 1729 1729 IN IP4 192.0.2.10
s=Asterisk
c=IN IP4 192.0.2.10
t=0 0
m=audio 14562 RTP/AVP 8 0 9 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
"""


def test_rtp_packet_round_trips_byte_for_byte() -> None:
    packet = RtpPacket.parse(SIPP_PACKET)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc, packet.marker) == (
        0, 0x1234, 160, 0xDEADBEEF, True)
    assert packet.payload == b"\xff\xfe\x7f\x00"
    assert bytes(packet) == SIPP_PACKET


@pytest.mark.parametrize("name", ["sipp_rtp_stream_pcmu.bin", "callbot_pcmu.bin"])
def test_captured_packets_round_trip(name: str) -> None:
    """Real packets (tests/fixtures/sip/README.md): sipp's rtp_stream, and our own sender."""
    data = (FIXTURES / name).read_bytes()
    packet = RtpPacket.parse(data)
    assert (packet.payload_type, len(packet.payload)) == (0, 160)  # PCMU, 20 ms
    assert bytes(packet) == data


def test_rtp_csrcs_extension_and_padding_are_skipped() -> None:
    header = bytes([0x80 | 0x20 | 0x10 | 2, 8]) + struct.pack("!HII", 7, 320, 1)
    csrcs = struct.pack("!II", 11, 12)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x01\x02\x03\x04"
    data = header + csrcs + extension + b"\xd5" * 160 + b"\x00\x00\x03"  # 3 bytes of padding
    packet = RtpPacket.parse(data)
    assert (packet.payload_type, packet.sequence, packet.payload) == (8, 7, b"\xd5" * 160)


@pytest.mark.parametrize(("data", "message"), [
    (b"\x80\x00", "RTP packet too short (2 bytes)"),
    (bytes([0x40]) + bytes(11), "RTP version 1 not supported"),
    (bytes([0x90, 0]) + bytes(10) + b"\x00\x01", "RTP header extension truncated"),
    (bytes([0x8F, 0]) + bytes(10), "RTP header longer than the packet"),
])
def test_rtp_errors_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(RtpError) as error:
        RtpPacket.parse(data)
    assert str(error.value) == message


def test_rtp_fields_wrap_instead_of_overflowing() -> None:
    packet = RtpPacket(0, 0x1_0001, 0x1_0000_0002, 0x1_0000_0003)
    assert RtpPacket.parse(bytes(packet)) == RtpPacket(0, 1, 2, 3)


def test_telephone_event_round_trip() -> None:
    event = TelephoneEvent.parse(DTMF_ZERO_END)
    assert event == TelephoneEvent(0, end=True, volume=10, duration=800)
    assert event.digit == "0"
    assert bytes(event) == DTMF_ZERO_END
    assert TelephoneEvent(11).digit == "#" and TelephoneEvent(16).digit is None
    with pytest.raises(RtpError, match=r"telephone-event payload too short \(2 bytes\)"):
        TelephoneEvent.parse(b"\x00\x80")


def test_one_digit_per_key_press_despite_repeats() -> None:
    """A press: updates, then the end packet three times (RFC 4733 §2.5.1.4); then a second press."""
    detector = DtmfDetector()

    def packet(event: int, end: bool, timestamp: int) -> RtpPacket:
        return RtpPacket(101, 0, timestamp, 1, bytes(TelephoneEvent(event, end, 10, 160)))

    press = [packet(5, False, 8000)] * 3 + [packet(5, True, 8000)] * 3
    assert [detector.feed(p) for p in press] == [None, None, None, "5", None, None]
    assert detector.feed(packet(5, True, 9600)) == "5"  # the same key again, a new press


@pytest.mark.parametrize("codec", ["ulaw", "alaw"])
def test_g711_round_trip_keeps_the_signal(codec: str) -> None:
    tone = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 8000)))
                    for n in range(160))
    encoded = g711.encode(tone, codec)
    assert len(encoded) == 160  # one byte a sample: one 20 ms RTP payload
    decoded = struct.unpack("<160h", g711.decode(encoded, codec))
    original = struct.unpack("<160h", tone)
    assert max(abs(a - b) for a, b in zip(decoded, original, strict=True)) < 8000 * 0.04


def test_offer_from_asterisk_is_read_and_answered() -> None:
    offer = SdpOffer.parse(ASTERISK_OFFER)
    assert (offer.address, offer.port, offer.formats) == ("192.0.2.10", 14562, (8, 0, 9, 101))
    assert offer.choose_codec() == 9  # our preference (G722, PCMU, PCMA), not the offerer's
    assert offer.choose_codec(("PCMU", "PCMA")) == 0
    assert offer.telephone_event() == 101
    text = answer(offer, "198.51.100.7", 20000, session_id=42, preference=("PCMA",))
    assert text.split("\r\n") == [
        "v=0", "o=callbot 42 42 IN IP4 198.51.100.7", "s=callbot", "c=IN IP4 198.51.100.7",
        "t=0 0", "m=audio 20000 RTP/AVP 8 101", "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv", ""]


def test_hold_offers_are_answered_with_the_mirrored_direction() -> None:
    held = SdpOffer.parse(ASTERISK_OFFER.replace("a=sendrecv", "a=sendonly"))
    assert held.direction == "sendonly"
    assert "a=recvonly" in answer(held, "127.0.0.1", 20000)
    old_style = SdpOffer.parse(ASTERISK_OFFER.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0"))
    assert old_style.direction == "inactive"  # RFC 2543 hold


def test_offer_without_our_codecs_has_no_codec() -> None:
    offer = SdpOffer.parse("v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 18\na=rtpmap:18 G729/8000\n")
    assert offer.choose_codec() is None
    with pytest.raises(SdpError, match="none of G722, PCMU, PCMA in the offer"):
        answer(offer, "127.0.0.1", 20000)
    renamed = SdpOffer.parse("v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 opus/48000\n")
    assert renamed.choose_codec() is None  # payload type 0 mapped to something else


@pytest.mark.parametrize(("text", "message"), [
    ("v=0\nc=IN IP4 10.0.0.1\n", "no 'm=audio' line"),
    ("v=0\nc=IN IP4 10.0.0.1\nm=audio\n", "malformed media line 'm=audio'"),
    ("v=0\nm=audio 4000 RTP/AVP 0\n", "no 'c=' line for the audio stream"),
    ("v=0\nc=IN IP6 ::1\nm=audio 4000 RTP/AVP 0\n",
     "unsupported connection line 'c=IN IP6 ::1' (IN IP4 only)"),
    ("", "no 'm=audio' line"),
    # found by tests/test_fuzz_sip.py: ports the socket refuses, digits int() refuses, names
    ("v=0\nc=IN IP4 10.0.0.1\nm=audio 99999999 RTP/AVP 0\n",
     "malformed media line 'm=audio 99999999 RTP/AVP 0'"),
    ("v=0\nc=IN IP4 10.0.0.1\nm=audio 0 RTP/AVP 0\n", "malformed media line 'm=audio 0 RTP/AVP 0'"),
    ("v=0\nc=IN IP4 10.0.0.1\nm=audio 4²00 RTP/AVP 0\n",
     "malformed media line 'm=audio 4²00 RTP/AVP 0'"),
    ("v=0\nc=IN IP4 pbx.example\nm=audio 4000 RTP/AVP 0\n",
     "connection address 'pbx.example' is not an IPv4 address"),
])
def test_sdp_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SdpError) as error:
        SdpOffer.parse(text)
    assert str(error.value) == message
