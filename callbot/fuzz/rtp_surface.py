"""RTP datagrams as the SIP endpoint's media socket receives them (callbot/sip/rtp_wire.py).

Each input is one UDP datagram: parsed, its G.711 payload decoded, and telephone events
(RFC 4733, payload type 101 here) fed to a DTMF detector that lives across inputs, as it
does across the packets of a call.
"""

from __future__ import annotations

from callbot.bridge import g711
from callbot.fuzz.surface import FuzzFailure, Surface
from callbot.sip.rtp_wire import CODEC_BY_PT, DtmfDetector, RtpError, RtpPacket, TelephoneEvent

EVENT_PT = 101
_SEEDS = (
    bytes(RtpPacket(0, 1, 160, 0x1234, bytes(range(160)))),
    bytes(RtpPacket(8, 2, 320, 0x1234, b"\xd5" * 160, marker=True)),
    bytes(RtpPacket(EVENT_PT, 3, 480, 0x1234, bytes(TelephoneEvent(1, False, 10, 160)))),
    bytes(RtpPacket(EVENT_PT, 4, 480, 0x1234, bytes(TelephoneEvent(11, True, 10, 800)))),
    b"\xb2\x00\x00\x05\x00\x00\x02\x80\x00\x00\x12\x34" + b"\x00\x00\x00\x01" * 2
    + b"\xbe\xde\x00\x01\x10\xff\x00\x00" + bytes(160) + b"\x00\x00\x02",  # CSRC, ext, padding
)
_TOKENS = (b"\x80", b"\x90", b"\xa0", b"\xbf", b"\x65", b"\xe5", b"\xbe\xde", b"\xff\xff",
           b"\x00\x04", b"\x0b\x80\x03\x20")


def rtp_surface() -> Surface:
    detector = DtmfDetector()

    async def feed(data: bytes) -> str:
        packet = RtpPacket.parse(data)
        if packet.payload_type == EVENT_PT:
            digit = detector.feed(packet)
            if digit is not None and digit not in "0123456789*#ABCD":
                raise FuzzFailure(f"DTMF digit {digit!r} is not a keypad key")
            return "dtmf" if digit else "event"
        pcm = g711.decode(packet.payload, CODEC_BY_PT.get(packet.payload_type, "ulaw"))
        if len(pcm) != 2 * len(packet.payload):
            raise FuzzFailure("G.711 payload did not decode to one sample per byte")
        return "audio"

    return Surface("rtp", feed, _SEEDS, _TOKENS, (RtpError,))
