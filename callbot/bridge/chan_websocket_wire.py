"""Asterisk chan_websocket control messages (TEXT frames), plain-text and JSON forms.

Events come from Asterisk (``MEDIA_START connection_id:… format:ulaw optimal_frame_size:160``
or ``{"event": "MEDIA_START", …}``); commands go to it (``FLUSH_MEDIA``, ``HANGUP``…).
Audio travels in BINARY frames in the negotiated codec. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum

from callbot.json_input import JsonInputError, load_json

MAX_CONTROL_CHARS = 8192
#: The call id goes to the call log (a 64-character column) and into every log line.
MAX_CALL_ID_CHARS = 64


class Command(StrEnum):
    ANSWER = "ANSWER"
    HANGUP = "HANGUP"
    FLUSH_MEDIA = "FLUSH_MEDIA"
    START_MEDIA_BUFFERING = "START_MEDIA_BUFFERING"
    STOP_MEDIA_BUFFERING = "STOP_MEDIA_BUFFERING"
    MARK_MEDIA = "MARK_MEDIA"
    GET_STATUS = "GET_STATUS"


class ControlError(ValueError):
    """A TEXT frame that is not a chan_websocket event."""


@dataclass(frozen=True)
class ControlEvent:
    """One event from Asterisk: its name and its parameters as strings."""

    name: str
    params: dict[str, str] = field(default_factory=dict)
    json_format: bool = False

    @classmethod
    def parse(cls, text: str) -> ControlEvent:
        if len(text) > MAX_CONTROL_CHARS:
            raise ControlError(f"control message longer than {MAX_CONTROL_CHARS} characters")
        text = text.strip()
        if not text:
            raise ControlError("empty control message")
        if text.startswith("{"):
            return cls._parse_json(text)
        name, *pairs = text.split()
        params = {}
        for pair in pairs:
            key, sep, value = pair.partition(":")
            if not sep or not key:
                raise ControlError(f"parameter '{pair}' is not key:value")
            params[key] = value
        if not name.replace("_", "").isalnum():
            raise ControlError(f"event name '{name}' is not a word")
        return cls(name.upper(), params)

    @classmethod
    def _parse_json(cls, text: str) -> ControlEvent:
        try:
            data = load_json(text)
        except JsonInputError as exc:
            raise ControlError(f"invalid JSON control message: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            raise ControlError('JSON control message needs an "event" string')
        params = {k: v if isinstance(v, str) else json.dumps(v)
                  for k, v in data.items() if k != "event"}
        return cls(data["event"].upper(), params, json_format=True)

    def call_id(self) -> str | None:
        """``channel_id`` or ``connection_id`` when usable as our call id, else ``None``."""
        for key in ("channel_id", "connection_id"):
            value = self.params.get(key, "")
            if value and len(value) <= MAX_CALL_ID_CHARS and value.isprintable():
                return value
        return None

    def int_param(self, key: str, default: int) -> int:
        try:
            return int(self.params.get(key, default))
        except ValueError:
            raise ControlError(f"{self.name}: {key} must be a number") from None


def command_text(command: Command, json_format: bool, **params: str) -> str:
    """A command in the format the peer used for its MEDIA_START."""
    if json_format:
        return json.dumps({"command": str(command), **params})
    return " ".join([str(command), *(f"{k}:{v}" for k, v in params.items())])
