"""Each bot turn of a call, sent to the peer that asked for it (``"events": true``).

The browser phone shows them as a live transcript: what was heard, the topic and its
confidence, the action. Conversation sinks may be called from a worker thread, so events go
through a queue into the event loop, where one task owned by the call sends them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from loguru import logger

from callbot.bridge.generic_wire import outgoing
from callbot.conversation.call_events import CallEvent, TurnTaken

#: How long the call's last turns may take to leave once the call is over.
DRAIN_SEC = 1.0
#: A topic or intent id → its title, for people rather than code names.
TitleOf = Callable[[str | None], str | None]


class TurnRelay:
    """A call-event sink whose turns reach ``send`` as ``{"type": "turn", …}`` messages."""

    def __init__(self, send: Callable[[str], object], title_of: TitleOf | None = None) -> None:
        self._send = send
        self._title_of = title_of
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str] = asyncio.Queue()

    def sink(self, event: CallEvent) -> None:
        if not isinstance(event, TurnTaken):
            return
        turn = event.turn.to_json()
        if self._title_of is not None:
            turn["title"] = self._title_of(turn.get("kb_entry") or turn.get("intent"))
        self._loop.call_soon_threadsafe(self._queue.put_nowait, outgoing("turn", turn=turn))

    async def _forward(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._send(message)  # type: ignore[misc]
            except ConnectionError:
                return  # the peer is gone; the call ends on its own
            except Exception as exc:  # a transcript line must never break the call
                logger.opt(exception=exc).warning("turn relay: a turn could not be sent")
            finally:
                self._queue.task_done()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TurnRelay]:
        """Forward turns while the block runs; what is queued at its end is still sent."""
        task = asyncio.create_task(self._forward(), name="turn-relay")
        try:
            yield self
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), DRAIN_SEC)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
