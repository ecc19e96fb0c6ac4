"""Per-connection limits of the bridges against a real ``callbot serve``: a 10 MB WebSocket
frame, an AudioSocket length of 65535 followed by garbage, a peer that connects and stays
silent, a flood of messages. Each is cut off with a log line that names the limit, and the
server answers the next, well-behaved call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from callbot.bridge.generic_wire import outgoing
from callbot.call_client import Step, call_audiosocket, call_websocket
from callbot.voice_server import VoiceServer, voice_server

LIMITS = {"CALLBOT_VOICE__HANDSHAKE_TIMEOUT_SEC": "1", "CALLBOT_VOICE__MAX_MESSAGES_PER_SEC": "100"}


@pytest.fixture(scope="module")
def server(nlu_cache: Path, brain: object) -> Iterator[VoiceServer]:
    with voice_server(nlu_cache, **LIMITS) as running:
        yield running


async def _logged(server: VoiceServer, text: str, timeout_sec: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_sec
    while time.monotonic() < deadline:
        lines = [line for line in server.log if text in line]
        if lines:
            return lines[-1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no log line with {text!r}:\n{server.log_text()[-2000:]}")


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """The close code once the server has closed (``None``: the connection was reset)."""
    while True:
        message = await asyncio.wait_for(ws.receive(), 10)
        if message.type is aiohttp.WSMsgType.CLOSE:
            return message.data
        if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return None


async def _good_call_is_answered(server: VoiceServer) -> None:
    report = await call_websocket(server.call_url, [Step("dtmf", "0")])
    assert {"type": "transfer", "reason": "dtmf_zero", "target": "switchboard"} in report.events
    assert server.process.poll() is None


async def test_ten_megabyte_frame_closes_that_connection(server: VoiceServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.call_url, max_msg_size=0) as ws:
            await ws.send_str(outgoing("start", call_id="big-frame", sample_rate=8000))
            assert json.loads((await ws.receive()).data)["type"] == "started"
            with contextlib.suppress(ConnectionError):  # cut off while still sending
                await ws.send_bytes(bytes(10 * 1024 * 1024))
            assert await _closed(ws) in (aiohttp.WSCloseCode.MESSAGE_TOO_BIG, None)
        url = server.call_url.replace("/call", "/asterisk")
        async with session.ws_connect(url, max_msg_size=0) as ws:
            with contextlib.suppress(ConnectionError):
                await ws.send_str("MEDIA_START " + "x:y " * 3_000_000)  # 12 MB of handshake
            assert await _closed(ws) in (aiohttp.WSCloseCode.MESSAGE_TOO_BIG, None)
    line = await _logged(server, "exceeds limit 65536; closing the connection")
    assert "websocket: Message size" in line
    await _good_call_is_answered(server)


async def test_audiosocket_length_65535_of_garbage(server: VoiceServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.audiosocket_port)
    writer.write(b"\x01\xff\xff" + bytes(range(256)) * 256)
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, nothing answered
    writer.close()
    await _logged(server, "audiosocket: payload of 65535 bytes exceeds 16000; dropping")
    report = await call_audiosocket("127.0.0.1", server.audiosocket_port, [Step("dtmf", "0")])
    assert report.greeting_latency_ms is not None and report.ended_by == "closed"


async def test_silent_peers_are_dropped_after_the_handshake_timeout(server: VoiceServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.audiosocket_port)
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 10) == b""
    assert time.monotonic() - started < 5
    writer.close()
    await _logged(server, "audiosocket handshake failed: no message within 1 s")
    async with aiohttp.ClientSession() as session, session.ws_connect(server.call_url) as ws:
        reply = await asyncio.wait_for(ws.receive(), 10)
        assert json.loads(reply.data) == {
            "type": "error", "message": 'no {"type": "start"} within the handshake timeout'}
    await _good_call_is_answered(server)


async def test_a_flood_of_messages_is_cut_off(server: VoiceServer) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(server.call_url) as ws:
        await ws.send_str(outgoing("start", call_id="flood", sample_rate=8000))
        assert json.loads((await ws.receive()).data)["type"] == "started"
        with contextlib.suppress(ConnectionError):
            for _ in range(500):
                await ws.send_str(outgoing("dtmf", digit="5"))
        assert await _closed(ws) in (1008, None)
    await _logged(server, "websocket peer flooding (more than 100 messages in one second)")
    await _good_call_is_answered(server)
