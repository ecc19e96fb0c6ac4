"""The WebSocket bridge counts a call from the moment it lets the connection in.

Without that, two callers arriving together both pass the capacity check while their
handshakes are in flight, and the process runs more calls than ``max_calls``. No call
reaches a pipeline here (every handshake is refused or pending), so the stack holds no models.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
from aiohttp import web

from callbot.bridge.websocket_server import add_bridge_routes
from callbot.pipeline.call import VoiceStack


def _stack() -> VoiceStack:
    return VoiceStack(brain=None, make_stt=None, make_tts=None)  # type: ignore[arg-type]


async def _close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    while True:
        message = await ws.receive(timeout=5)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code


async def _settled(condition: Callable[[], bool]) -> bool:
    """The server's handler finishes just after the client sees the close frame."""
    for _ in range(100):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


async def test_a_call_in_its_handshake_holds_its_slot(aiohttp_client) -> None:
    stack = _stack()
    app = web.Application()
    add_bridge_routes(app, stack, max_calls=1)
    client = await aiohttp_client(app)
    first = await client.ws_connect("/call")  # let in, has not sent its start yet
    second = await client.ws_connect("/call")
    assert await _close_code(second) == 1013  # busy: the first caller holds the only slot
    await first.send_str(json.dumps({"type": "hello"}))
    assert await _close_code(first) == 1002  # a bad handshake frees the slot…
    assert await _settled(lambda: stack.admitting == 0)
    third = await client.ws_connect("/asterisk")
    await third.send_str("NOT_MEDIA_START")
    assert await _close_code(third) == 1002  # …so the next caller is let in (and judged)
    assert await _settled(lambda: stack.admitting == 0) and stack.active_calls == 0
