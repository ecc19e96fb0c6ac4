"""Asterisk AudioSocket server (TCP): one connection per call, 20 ms slin frames paced by us."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from loguru import logger

from callbot.bridge.audiosocket_wire import (
    HEADER_BYTES,
    AudioSocketError,
    AudioSocketMessage,
    Kind,
    read_header,
)
from callbot.bridge.limits import BridgeLimits, FloodGuard
from callbot.bridge.serializers import AudioSocketSerializer
from callbot.pipeline.call import CallInfo, VoiceStack, run_call


class AudioSocketConnection:
    """A TCP stream cut into whole AudioSocket messages (bytes including the header)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 limits: BridgeLimits | None = None) -> None:
        self._reader, self._writer = reader, writer
        self._limits = limits or BridgeLimits()
        self._guard = FloodGuard(self._limits)

    async def receive(self) -> bytes | None:
        """One whole message; ``None`` (logged unless the peer simply left) ends the call."""
        idle_sec = self._limits.idle_timeout_sec  # no message at all: the call is gone
        try:
            header = await asyncio.wait_for(self._reader.readexactly(HEADER_BYTES), idle_sec)
            _, length = read_header(header, self._limits.max_audiosocket_payload_bytes)
            payload = await asyncio.wait_for(self._reader.readexactly(length), idle_sec)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        except TimeoutError:
            logger.warning(f"audiosocket: nothing from the peer for {idle_sec:g} s; "
                           "dropping the connection")
            return None
        except AudioSocketError as exc:
            logger.warning(f"audiosocket: {exc}; dropping the connection")
            return None
        breach = self._guard.admit(HEADER_BYTES + length, time.monotonic())
        if breach:
            logger.warning(f"audiosocket peer flooding ({breach}); dropping the connection")
            return None
        return header + payload

    async def send(self, data: bytes | str) -> None:
        if self._writer.is_closing():
            raise ConnectionError("audiosocket closed")
        self._writer.write(data if isinstance(data, bytes) else data.encode())
        await self._writer.drain()

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


class AudioSocketServer:
    def __init__(self, stack: VoiceStack, max_calls: int,
                 limits: BridgeLimits | None = None) -> None:
        self._stack, self._max_calls = stack, max_calls
        self._limits = limits or BridgeLimits()
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = AudioSocketConnection(reader, writer, self._limits)
        if not self._stack.can_take_call(self._max_calls):
            logger.warning("audiosocket call refused: maximum of simultaneous calls reached")
            await connection.close()  # the dialplan goes on to the switchboard
            return
        try:
            first = await asyncio.wait_for(connection.receive(), self._limits.handshake_timeout_sec)
            message = AudioSocketMessage.parse(first) if first else None
        except TimeoutError:
            logger.warning(f"audiosocket handshake failed: no message within "
                           f"{self._limits.handshake_timeout_sec:g} s")
            message = None
        except AudioSocketError as exc:
            logger.warning(f"audiosocket handshake failed: {exc}")
            message = None
        if message is None or message.kind is not Kind.UUID:
            logger.warning("audiosocket: the first message must be the call id (0x01)")
            await connection.close()
            return
        try:
            call_id = message.call_id
        except ValueError:
            call_id = uuid.uuid4().hex
        info = CallInfo(call_id, "audiosocket", AudioSocketSerializer.sample_rate)
        await run_call(self._stack, connection, AudioSocketSerializer(), info)
