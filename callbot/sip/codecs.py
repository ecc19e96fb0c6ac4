"""The audio codecs of a SIP call: G.711 (PCMU, PCMA) and G.722, PCM16 ↔ RTP payload.

All three put 20 ms in 160 payload bytes on an 8000 Hz RTP clock (G.722 samples at 16 kHz,
but RFC 3551 keeps its RTP clock at 8000), so packets, pacer and SDP are the same for every
call; what differs is the PCM rate of the call's pipeline and the coder. G.711 is stateless;
G.722 is sub-band ADPCM whose encoder and decoder each carry state from packet to packet, so
every call gets its own ``Codec.coder()``. G.722 comes from libg722 (PyPI ``g722``, the
``G722`` C extension sippy itself depends on): 46 dB SNR on a 1 kHz tone, ~40 µs to encode
and decode one packet (measured in the notes, .notes/g722.md).
"""

from __future__ import annotations

import array
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from G722 import G722

from callbot.bridge import g711
from callbot.sip.rtp_wire import PT_G722, PT_PCMA, PT_PCMU, SAMPLES_PER_PACKET

G722_RATE_HZ = 16000
G722_BIT_RATE = 64000  # the only rate of RTP payload type 9 (RFC 3551 §4.5.2)
#: Two PCM16 samples become one G.722 byte.
_G722_PCM_BYTES_PER_BYTE = 4
#: One G.722 code byte that a decoder, whatever its state, decodes to near silence when it is
#: repeated (0xFC: steady output 0 from a fresh decoder, RMS 35 of 32767 after speech); one
#: packet of encoded zeros, repeated, is not: the decoder's adaptation makes it a hum (RMS ~400).
G722_SILENCE_BYTE = b"\xfc"


class PayloadCoder(Protocol):
    """PCM16 (the call's rate, native byte order) ↔ payload bytes, for one call."""

    def encode(self, pcm: bytes) -> bytes: ...

    def decode(self, payload: bytes) -> bytes: ...


class G711Coder:
    """µ-law or A-law; no state, so one object could serve every call."""

    def __init__(self, law: str) -> None:
        self.law = law  # "ulaw" or "alaw", as callbot.bridge.g711 names them

    def encode(self, pcm: bytes) -> bytes:
        return g711.encode(pcm, self.law)

    def decode(self, payload: bytes) -> bytes:
        return g711.decode(payload, self.law)


class G722Coder:
    """One call's G.722 at 64 kbit/s: an encoder and a decoder, each with its ADPCM state."""

    def __init__(self) -> None:
        self._encoder = G722(G722_RATE_HZ, G722_BIT_RATE)
        self._decoder = G722(G722_RATE_HZ, G722_BIT_RATE)
        self._carry = b""  # PCM of a sample pair split between two frames

    def encode(self, pcm: bytes) -> bytes:
        data = self._carry + pcm
        whole = len(data) - len(data) % _G722_PCM_BYTES_PER_BYTE
        self._carry = data[whole:]
        if not whole:
            return b""
        samples = array.array("h", data[:whole])
        if sys.byteorder == "big":  # PCM frames are little-endian; the codec wants int16
            samples.byteswap()
        return self._encoder.encode(samples)

    def decode(self, payload: bytes) -> bytes:
        samples = self._decoder.decode(payload)
        if sys.byteorder == "big":
            samples.byteswap()
        return samples.tobytes()


@dataclass(frozen=True)
class Codec:
    """What a call needs to know of its codec; see the module docstring."""

    name: str  # SDP encoding name, as in a=rtpmap
    payload_type: int  # its static RTP payload type
    sample_rate_hz: int  # of the PCM on the pipeline's side
    silence: bytes  # one packet's payload that sounds like nothing (sent while the bot listens)
    make_coder: Callable[[], PayloadCoder]

    def coder(self) -> PayloadCoder:
        """A fresh coder: one per call and use (G.722 keeps state)."""
        return self.make_coder()


PCMU = Codec("PCMU", PT_PCMU, 8000, b"\xff" * SAMPLES_PER_PACKET, lambda: G711Coder("ulaw"))
PCMA = Codec("PCMA", PT_PCMA, 8000, b"\xd5" * SAMPLES_PER_PACKET, lambda: G711Coder("alaw"))
G722_CODEC = Codec("G722", PT_G722, G722_RATE_HZ, G722_SILENCE_BYTE * SAMPLES_PER_PACKET,
                   G722Coder)
CODECS = {codec.name: codec for codec in (G722_CODEC, PCMU, PCMA)}
BY_PAYLOAD_TYPE = {codec.payload_type: codec for codec in CODECS.values()}


def codec_named(name: str) -> Codec:
    """The codec of an SDP encoding name (any case); KeyError for one we do not speak."""
    return CODECS[name.upper()]
