"""Asterisk AudioSocket server (TCP): one connection per call, 20 ms slin frames paced by us."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from loguru import logger

from callbot.bridge.audiosocket_wire import (
    HEADER_BYTES,
    AudioSocketError,
    AudioSocketMessage,
    Kind,
    read_header,
)
from callbot.bridge.serializers import AudioSocketSerializer
from callbot.pipeline.call import CallInfo, VoiceStack, run_call

#: No message at all from Asterisk for this long means the call is gone.
READ_TIMEOUT_SEC = 30.0
HANDSHAKE_TIMEOUT_SEC = 5.0


class AudioSocketConnection:
    """A TCP stream cut into whole AudioSocket messages (bytes including the header)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def receive(self) -> bytes | None:
        try:
            header = await asyncio.wait_for(self._reader.readexactly(HEADER_BYTES), READ_TIMEOUT_SEC)
            _, length = read_header(header)
            payload = await asyncio.wait_for(self._reader.readexactly(length), READ_TIMEOUT_SEC)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            return None
        except AudioSocketError as exc:
            logger.warning(f"audiosocket: {exc}; dropping the connection")
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
    def __init__(self, stack: VoiceStack, max_calls: int) -> None:
        self._stack, self._max_calls = stack, max_calls
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = AudioSocketConnection(reader, writer)
        if not self._stack.can_take_call(self._max_calls):
            logger.warning("audiosocket call refused: maximum of simultaneous calls reached")
            await connection.close()  # the dialplan goes on to the switchboard
            return
        try:
            first = await asyncio.wait_for(connection.receive(), HANDSHAKE_TIMEOUT_SEC)
            message = AudioSocketMessage.parse(first) if first else None
        except (TimeoutError, AudioSocketError) as exc:
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
