"""The few SDP lines (RFC 4566 / 3264) a telephone call needs: read an offer, write the answer.

Pure text in, text out. ``SdpOffer.parse`` raises ``SdpError`` with a message saying what is
wrong; ``choose_codec`` returns None when nothing offered is usable (the caller answers 488).
The codec is chosen by our preference (``sip.codecs``, G722 then PCMU then PCMA by default),
not the offerer's order, as Asterisk's PJSIP does by default
(``incoming_call_offer_pref = local``).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from callbot.sip.rtp_wire import CLOCK_RATE_HZ, PACKET_MS, STATIC_CODECS

#: Static payload types (RFC 3551) we understand without an rtpmap line.
STATIC_NAMES = {pt: name.lower() for pt, name in STATIC_CODECS.items()}
#: Our codec preference unless ``sip.codecs`` says otherwise: wideband first.
DEFAULT_CODECS = ("G722", "PCMU", "PCMA")
TELEPHONE_EVENT = "telephone-event"
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
#: Our direction for each of the offerer's (RFC 3264 §6.1).
ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                    "inactive": "inactive"}


class SdpError(ValueError):
    """An SDP body we cannot use; the message names the missing or broken line."""


@dataclass(frozen=True)
class SdpOffer:
    address: str  # where to send RTP (c= line of the audio stream, else of the session)
    port: int
    formats: tuple[int, ...]  # payload types, the offerer's preference first
    names: dict[int, str] = field(default_factory=dict)  # payload type → lower-case codec name
    direction: str = "sendrecv"

    @classmethod
    def parse(cls, text: str) -> SdpOffer:
        session_address, media_address, audio = None, None, None
        names: dict[int, str] = {}
        direction = "sendrecv"
        for raw in text.splitlines():
            line = raw.strip()
            if len(line) < 2 or line[1] != "=":
                continue
            kind, value = line[0], line[2:]
            if kind == "m":
                if audio is not None:
                    break  # only the first audio stream
                parts = value.split()
                if parts and parts[0] == "audio":
                    audio = parts
            elif kind == "c":
                parts = value.split()
                if len(parts) != 3 or parts[:2] != ["IN", "IP4"]:
                    raise SdpError(f"unsupported connection line 'c={value[:60]}' (IN IP4 only)")
                if audio is None:
                    session_address = parts[2]
                else:
                    media_address = parts[2]
            elif kind == "a" and value.startswith("rtpmap:"):
                pt, _, encoding = value[7:].partition(" ")
                if _is_number(pt):
                    names[int(pt)] = encoding.split("/")[0].lower()
            elif kind == "a" and value in DIRECTIONS:
                direction = value
        if audio is None:
            raise SdpError("no 'm=audio' line")
        if len(audio) < 4 or not _is_number(audio[1]) or not 0 < int(audio[1]) < 65536:
            raise SdpError(f"malformed media line 'm={' '.join(audio)[:80]}'")
        address = media_address or session_address
        if address is None:
            raise SdpError("no 'c=' line for the audio stream")
        try:  # an address we can send to without a DNS look-up in the media path
            ipaddress.IPv4Address(address)
        except ValueError:
            raise SdpError(f"connection address {address[:40]!r} is not an IPv4 address") from None
        formats = tuple(int(f) for f in audio[3:] if _is_number(f))
        if address == "0.0.0.0":  # RFC 2543 hold
            direction = "inactive" if direction == "sendrecv" else direction
        return cls(address, int(audio[1]), formats, names, direction)

    def name_of(self, payload_type: int) -> str | None:
        return self.names.get(payload_type) or STATIC_NAMES.get(payload_type)

    def choose_codec(self, preference: Sequence[str] = DEFAULT_CODECS) -> int | None:
        """The offered payload type of the first codec of ``preference`` we find, else None."""
        for name in preference:
            for pt in self.formats:
                if self.name_of(pt) == name.lower():
                    return pt
        return None

    def telephone_event(self) -> int | None:
        return next((pt for pt in self.formats if self.name_of(pt) == TELEPHONE_EVENT), None)


def _is_number(text: str) -> bool:
    """ASCII digits only: ``"²".isdigit()`` is true and ``int("²")`` fails."""
    return text.isascii() and text.isdigit()


def answer(offer: SdpOffer, address: str, port: int, session_id: int | None = None,
           preference: Sequence[str] = DEFAULT_CODECS) -> str:
    """Our answer: the chosen codec, telephone-event when offered, the mirrored direction."""
    codec = offer.choose_codec(preference)
    if codec is None:
        raise SdpError(f"none of {', '.join(preference)} in the offer")
    return describe(address, port, [(codec, offer.name_of(codec) or "")],
                    offer.telephone_event(), ANSWER_DIRECTION[offer.direction], session_id)


def describe(address: str, port: int, codecs: Sequence[tuple[int, str]], event: int | None,
             direction: str = "sendrecv", session_id: int | None = None) -> str:
    """One audio stream at ``address:port``: ``codecs`` as (payload type, name), RFC 4733 keys
    on payload type ``event`` (None: none); an answer's body and an offer's alike."""
    formats = [pt for pt, _ in codecs] + ([event] if event is not None else [])
    session = session_id if session_id is not None else int(time.time())
    lines = [
        "v=0",
        f"o=callbot {session} {session} IN IP4 {address}",
        "s=callbot",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(f) for f in formats)}",
        # G722/8000 too: its RTP clock is 8000 though it samples at 16 kHz (RFC 3551)
        *(f"a=rtpmap:{pt} {name.upper()}/{CLOCK_RATE_HZ}" for pt, name in codecs),
    ]
    if event is not None:
        lines += [f"a=rtpmap:{event} {TELEPHONE_EVENT}/{CLOCK_RATE_HZ}", f"a=fmtp:{event} 0-15"]
    lines += [f"a=ptime:{PACKET_MS}", f"a={direction}"]
    return "\r\n".join(lines) + "\r\n"
