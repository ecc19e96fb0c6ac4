"""The generic WebSocket protocol for PBXs other than Asterisk, and for tests.

TEXT frames are JSON control messages, BINARY frames are 16-bit little-endian mono PCM
at the rate given in ``start``::

    → {"type": "start", "call_id": "…", "caller": "+33…", "sample_rate": 8000}
    → {"type": "dtmf", "digit": "0"}
    → {"type": "stop"}                              caller hung up
    ← {"type": "started", "call_id": "…"}
    ← {"type": "clear"}                             barge-in: drop queued bot audio
    ← {"type": "transfer", "reason": "caller_asked", "target": "switchboard"}
    ← {"type": "hangup", "reason": "…"}
    ← {"type": "error", "message": "…"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SUPPORTED_RATES_HZ = (8000, 16000)
MAX_CONTROL_CHARS = 4096
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class GenericProtocolError(ValueError):
    """A control message that breaks the generic protocol; the text says how."""


@dataclass(frozen=True)
class GenericMessage:
    type: str
    call_id: str = ""
    caller: str | None = None
    sample_rate: int = 8000
    digit: str = ""

    @classmethod
    def parse(cls, text: str) -> GenericMessage:
        if len(text) > MAX_CONTROL_CHARS:
            raise GenericProtocolError(f"control message longer than {MAX_CONTROL_CHARS} characters")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenericProtocolError(f"invalid JSON: {exc.msg}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise GenericProtocolError('a control message needs a "type" string')
        kind = data["type"]
        if kind == "start":
            rate = data.get("sample_rate", 8000)
            if rate not in SUPPORTED_RATES_HZ:
                raise GenericProtocolError(f"sample_rate {rate!r} not supported "
                                           f"(use {' or '.join(map(str, SUPPORTED_RATES_HZ))})")
            caller = data.get("caller")
            return cls("start", str(data.get("call_id", "")), str(caller) if caller else None,
                       rate)
        if kind == "dtmf":
            digit = data.get("digit")
            if not isinstance(digit, str) or digit not in DTMF_DIGITS:
                raise GenericProtocolError(f"dtmf digit {digit!r} is not one of 0-9 * # A-D")
            return cls("dtmf", digit=digit)
        if kind == "stop":
            return cls("stop")
        raise GenericProtocolError(f"unknown message type {kind!r}")


def outgoing(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})
