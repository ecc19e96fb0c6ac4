"""WebSocket bridges on aiohttp: Asterisk chan_websocket (``/asterisk``) and the generic
protocol (``/call``). Many calls at once, each its own pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from aiohttp import WSMsgType, web
from loguru import logger

from callbot import faults
from callbot.bridge.chan_websocket_wire import ControlError, ControlEvent
from callbot.bridge.generic_wire import GenericMessage, GenericProtocolError, outgoing
from callbot.bridge.limits import CLOSE_POLICY_VIOLATION, BridgeLimits, FloodGuard
from callbot.bridge.serializers import ChanWebsocketSerializer, GenericSerializer
from callbot.bridge.transport import BUFFERING_PEER
from callbot.pipeline.call import CallInfo, VoiceStack, log_early_hangup, run_call

#: WebSocket close code "try again later", for calls over capacity.
CLOSE_TRY_AGAIN_LATER = 1013
_CODEC_RATES = {"ulaw": 8000, "alaw": 8000, "slin": 8000, "slin16": 16000}
STACK_KEY = web.AppKey("voice_stack", VoiceStack)
MAX_CALLS_KEY = web.AppKey("max_calls", int)
LIMITS_KEY = web.AppKey("bridge_limits", BridgeLimits)
#: The call log's channel of generic-protocol calls on this app ("browser" on the web app's phone).
CHANNEL_KEY = web.AppKey("generic_channel", str)


class WebSocketConnection:
    """aiohttp WebSocket as a ``BridgeConnection``: whole messages, ``None`` when closed."""

    def __init__(self, ws: web.WebSocketResponse, limits: BridgeLimits | None = None) -> None:
        self._ws = ws
        self._guard = FloodGuard(limits or BridgeLimits())

    async def receive(self) -> bytes | str | None:
        while True:
            message = await self._ws.receive()
            if message.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                breach = self._guard.admit(len(message.data), time.monotonic())
                if breach is None:
                    return message.data
                logger.warning(f"websocket peer flooding ({breach}); closing the connection")
                await self._ws.close(code=CLOSE_POLICY_VIOLATION, message=b"flood")
                return None
            if message.type is WSMsgType.ERROR:  # e.g. a message over max_message_bytes
                logger.warning(f"websocket: {self._ws.exception()}; closing the connection")
                return None
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return None

    async def send(self, data: bytes | str) -> None:
        if self._ws.closed:
            raise ConnectionError("websocket closed")
        faults.check("bridge")
        if isinstance(data, bytes):
            await self._ws.send_bytes(data)
        else:
            await self._ws.send_str(data)

    async def close(self) -> None:
        if not self._ws.closed:
            await self._ws.close()


async def _first_text(connection: WebSocketConnection, timeout_sec: float) -> str | None:
    try:
        data = await asyncio.wait_for(connection.receive(), timeout_sec)
    except TimeoutError:
        return None
    return data if isinstance(data, str) else None


async def _open(request: web.Request) -> tuple[web.WebSocketResponse, WebSocketConnection | None,
                                               str | None]:
    """Accept the WebSocket; refuse it when over capacity (no connection); read the handshake."""
    limits = request.app.get(LIMITS_KEY) or BridgeLimits()
    ws = web.WebSocketResponse(max_msg_size=limits.max_message_bytes, heartbeat=30)
    await ws.prepare(request)
    stack = request.app[STACK_KEY]
    if not stack.can_take_call(request.app[MAX_CALLS_KEY]):
        why = "busy" if stack.accepting else "shutting down"
        logger.warning(f"call refused: {why}")
        await ws.close(code=CLOSE_TRY_AGAIN_LATER, message=why.encode())
        return ws, None, None
    connection = WebSocketConnection(ws, limits)
    stack.admitting += 1  # released by the handler just before run_call counts the call
    try:
        return ws, connection, await _first_text(connection, limits.handshake_timeout_sec)
    except BaseException:
        stack.admitting -= 1
        raise


async def asterisk_handler(request: web.Request) -> web.WebSocketResponse:
    ws, connection, text = await _open(request)
    if connection is None:
        return ws
    stack = request.app[STACK_KEY]
    try:
        if text is None:
            raise ControlError("no MEDIA_START within the handshake timeout")
        event = ControlEvent.parse(text)
        if event.name != "MEDIA_START":
            raise ControlError(f"expected MEDIA_START first, got {event.name}")
        codec = event.params.get("format", "ulaw")
        if codec not in _CODEC_RATES:
            raise ControlError(f"format {codec!r} not supported (ulaw, alaw, slin, slin16)")
    except ControlError as exc:
        logger.warning(f"chan_websocket handshake refused: {exc}")
        await ws.close(code=1002, message=str(exc).encode()[:120])
        return ws
    finally:
        stack.admitting -= 1  # no await from here until run_call counts the call
    call_id = event.call_id() or uuid.uuid4().hex
    serializer = ChanWebsocketSerializer(codec, _CODEC_RATES[codec], event.json_format)
    info = CallInfo(call_id, "asterisk-websocket", _CODEC_RATES[codec],
                    pacing=BUFFERING_PEER)  # Asterisk re-times the audio, flushes it on barge-in
    await run_call(stack, connection, serializer, info)
    return ws


async def generic_handler(request: web.Request) -> web.WebSocketResponse:
    ws, connection, text = await _open(request)
    if connection is None:
        return ws
    stack = request.app[STACK_KEY]
    try:
        if text is None:
            raise GenericProtocolError('no {"type": "start"} within the handshake timeout')
        start = GenericMessage.parse(text)
        if start.type != "start":
            raise GenericProtocolError(f'expected {{"type": "start"}} first, got {start.type!r}')
        call_id = start.call_id or uuid.uuid4().hex
        info = CallInfo(call_id, request.app.get(CHANNEL_KEY, "websocket"), start.sample_rate,
                        start.caller, pacing=BUFFERING_PEER)
        await connection.send(outgoing("started", call_id=call_id))
    except (ConnectionError, asyncio.CancelledError) as exc:  # admitted: still a call
        log_early_hangup(stack, info, f"hung up during the handshake: {type(exc).__name__}")
        if isinstance(exc, asyncio.CancelledError):
            raise
        return ws
    except GenericProtocolError as exc:
        logger.warning(f"generic bridge handshake refused: {exc}")
        with contextlib.suppress(ConnectionError):  # the peer may be gone already
            await connection.send(outgoing("error", message=str(exc)))
        await ws.close(code=1002)
        return ws
    finally:
        stack.admitting -= 1  # no await from here until run_call counts the call
    await run_call(stack, connection, GenericSerializer(start.sample_rate), info)
    return ws


def add_bridge_routes(app: web.Application, stack: VoiceStack, max_calls: int,
                      limits: BridgeLimits | None = None) -> None:
    app[STACK_KEY] = stack
    app[MAX_CALLS_KEY] = max_calls
    app[LIMITS_KEY] = limits or BridgeLimits()
    app.router.add_get("/asterisk", asterisk_handler)
    app.router.add_get("/call", generic_handler)
