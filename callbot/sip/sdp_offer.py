"""Our SDP offer (RFC 3264 §5) for an outbound call: the codecs we speak, RFC 4733 keys.

Pure text, the counterpart of ``callbot.sip.sdp.answer`` (which answers a caller's offer). The
callee's answer is read with ``SdpOffer.parse`` like any SDP body; its first format we know is
the call's codec.
"""

from __future__ import annotations

from collections.abc import Sequence

from callbot.sip.rtp_wire import STATIC_CODECS
from callbot.sip.sdp import DEFAULT_CODECS, describe

#: Static payload type of each codec we offer, by SDP name.
PAYLOAD_TYPES = {name: pt for pt, name in STATIC_CODECS.items()}
#: The dynamic payload type we give telephone-event (as Asterisk and most phones do).
EVENT_PT = 101


def offer(address: str, port: int, preference: Sequence[str] = DEFAULT_CODECS,
          session_id: int | None = None) -> str:
    """An offer of ``preference`` (ours first), telephone-event and sendrecv audio."""
    codecs = [(PAYLOAD_TYPES[name.upper()], name) for name in preference]
    return describe(address, port, codecs, EVENT_PT, "sendrecv", session_id)
