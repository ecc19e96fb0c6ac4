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

The bot sends its audio up to half a second ahead of real time (a busy machine then leaves no
hole in it): buffer it, play it at real time, and drop what is buffered on ``clear``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from callbot.json_input import JsonInputError, load_json

SUPPORTED_RATES_HZ = (8000, 16000)
MAX_CONTROL_CHARS = 4096
DTMF_DIGITS = frozenset("0123456789*#ABCD")
#: Call ids and caller numbers end up in the call log (64-character columns) and in logs.
MAX_ID_CHARS = 64


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
            data = load_json(text)
        except JsonInputError as exc:
            raise GenericProtocolError(f"invalid JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise GenericProtocolError('a control message needs a "type" string')
        kind = data["type"]
        if kind == "start":
            rate = data.get("sample_rate", 8000)
            if type(rate) is not int or rate not in SUPPORTED_RATES_HZ:  # not 8000.0, not True
                raise GenericProtocolError(f"sample_rate {rate!r} not supported "
                                           f"(use {' or '.join(map(str, SUPPORTED_RATES_HZ))})")
            caller = _id_text(data.get("caller"), "caller")
            return cls("start", _id_text(data.get("call_id"), "call_id"), caller or None, rate)
        if kind == "dtmf":
            digit = data.get("digit")
            if not isinstance(digit, str) or digit not in DTMF_DIGITS:
                raise GenericProtocolError(f"dtmf digit {digit!r} is not one of 0-9 * # A-D")
            return cls("dtmf", digit=digit)
        if kind == "stop":
            return cls("stop")
        raise GenericProtocolError(f"unknown message type {kind!r}")


def _id_text(value: object, key: str) -> str:
    """A short printable id; numbers are accepted as their digits."""
    if value is None or value == "":
        return ""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text is None or len(text) > MAX_ID_CHARS or not text.isprintable():
        raise GenericProtocolError(f"{key} must be printable text of at most {MAX_ID_CHARS} "
                                   "characters")
    return text


def outgoing(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})
