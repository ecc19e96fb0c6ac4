"""Per-connection limits of the bridges: message size, handshake and idle timeouts, floods.

A peer that sends too much, too fast or nothing at all is cut off with one log line that
says which limit it hit; the other calls never notice. ``FloodGuard`` is clock-free: the
caller passes ``now``, so tests feed it numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbot.bridge.audiosocket_wire import MAX_PAYLOAD_BYTES

#: WebSocket close code "policy violation", sent to a flooding peer.
CLOSE_POLICY_VIOLATION = 1008
_WINDOW_SEC = 1.0


@dataclass(frozen=True)
class BridgeLimits:
    """Defaults leave room for 20 ms audio frames (50 a second, 32 kB/s at 16 kHz)."""

    max_message_bytes: int = 64 * 1024  # one WebSocket message
    max_audiosocket_payload_bytes: int = MAX_PAYLOAD_BYTES  # at most 16 000
    handshake_timeout_sec: float = 5.0  # connection opened, first message still missing
    idle_timeout_sec: float = 30.0  # AudioSocket: nothing at all from the peer
    max_messages_per_sec: int = 250  # five times the audio frame rate
    max_bytes_per_sec: int = 512 * 1024  # sixteen times 16 kHz slin16

    @classmethod
    def from_settings(cls, voice: object) -> BridgeLimits:
        """The ``voice.*`` settings of the same names (missing ones keep their default)."""
        names = cls.__dataclass_fields__
        return cls(**{name: getattr(voice, name) for name in names if hasattr(voice, name)})


class FloodGuard:
    """Messages and bytes a connection sent in the current one-second window."""

    def __init__(self, limits: BridgeLimits) -> None:
        self._limits = limits
        self._window_start = float("-inf")
        self._messages = self._bytes = 0

    def admit(self, size: int, now: float) -> str | None:
        """``None`` if this message is within the limits, else which limit it breaks."""
        if now - self._window_start >= _WINDOW_SEC:
            self._window_start, self._messages, self._bytes = now, 0, 0
        self._messages += 1
        self._bytes += size
        if self._messages > self._limits.max_messages_per_sec:
            return f"more than {self._limits.max_messages_per_sec} messages in one second"
        if self._bytes > self._limits.max_bytes_per_sec:
            return f"more than {self._limits.max_bytes_per_sec} bytes in one second"
        return None
