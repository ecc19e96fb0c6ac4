"""What a fuzzed surface is: seeds, format tokens, the errors that count as a clear refusal.

``feed(data)`` hands one input to the real parser and returns a short outcome label; it
raises one of ``refusals`` (with a message) when the parser refuses the input. Anything
else that escapes is a crash: a bug to fix, never an acceptable answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Feed = Callable[[bytes], Awaitable[str]]


class FuzzFailure(AssertionError):
    """The parser broke a promise (no message, a torn frame…) without crashing."""


@dataclass
class Surface:
    name: str
    feed: Feed
    seeds: tuple[bytes, ...]
    tokens: tuple[bytes, ...] = ()
    refusals: tuple[type[Exception], ...] = ()
    concurrency: int = 1  # inputs in flight at once (a server surface waits on threads)
    hang_sec: float = 5.0  # an input slower than this counts as a hang
    close: Callable[[], Awaitable[None]] | None = field(default=None)


async def check(surface: Surface, data: bytes) -> str:
    """Outcome label of one input: the feed's own, or the refusal's type name."""
    try:
        return await surface.feed(data)
    except surface.refusals as exc:
        if not str(exc).strip():
            raise FuzzFailure(f"{type(exc).__name__} raised without a message") from exc
        return type(exc).__name__
