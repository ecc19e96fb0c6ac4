"""Whole calls over the WebSocket and AudioSocket bridges against a real ``callbot serve``.

Real models: the Vosk model and Piper voice that PyPI packages ship (Korean and English: the
mechanics are what is checked here; French understanding is checked with Whisper below).
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from callbot.bridge.audiosocket_wire import AudioSocketMessage
from callbot.bridge.generic_wire import outgoing
from callbot.call_client import Step, call_audiosocket, call_websocket
from callbot.voice_server import VoiceServer, voice_server

AUDIO = Path(__file__).parent / "fixtures" / "audio"


@pytest.fixture(scope="module")
def server(nlu_cache: Path, brain: object) -> Iterator[VoiceServer]:
    with voice_server(nlu_cache) as running:
        yield running


async def test_greeting_then_dtmf_zero_transfers(server: VoiceServer) -> None:
    report = await call_websocket(server.call_url, [Step("dtmf", "0")])
    assert report.greeting_latency_ms is not None and len(report.bot_audio) > 8000 * 2 * 3
    assert "assistant automatique" in report.turns[0]["bot"]
    assert report.turns[-1]["action"] == "transfer"
    assert {"type": "transfer", "reason": "dtmf_zero", "target": "switchboard"} in report.events


async def test_speech_is_recognised_and_answered(server: VoiceServer) -> None:
    report = await call_websocket(server.call_url, [Step("wav", str(AUDIO / "ko_greeting.wav"))])
    caller_turns = [t for t in report.turns if t.get("caller")]
    assert caller_turns, "the caller's speech produced no bot turn"
    assert caller_turns[0]["action"] in {"answer", "clarify", "reprompt", "transfer"}
    assert report.turn_latencies_ms and report.turn_latencies_ms[0] > 0


async def test_barge_in_flushes_the_bot_audio(server: VoiceServer) -> None:
    speech = [Step("wav", str(AUDIO / "fr_horaires.wav"))]
    report = await call_websocket(server.call_url, speech, wait_greeting=False)
    assert {"type": "clear"} in report.events


async def test_audiosocket_call_transfers_by_closing(server: VoiceServer) -> None:
    report = await call_audiosocket("127.0.0.1", server.audiosocket_port, [Step("dtmf", "0")])
    assert report.greeting_latency_ms is not None and len(report.bot_audio) > 8000 * 2 * 3
    assert report.ended_by == "closed"  # no hangup message: the dialplan goes on


async def test_malformed_frames_do_not_end_the_call(server: VoiceServer) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(server.call_url) as ws:
        await ws.send_str(outgoing("start", call_id="fuzzy", sample_rate=8000))
        for junk in ("{not json", '{"type": "dance"}', '{"type": "dtmf", "digit": "x"}', "[]"):
            await ws.send_str(junk)
        await ws.send_bytes(b"\x01\x02\x03")  # odd-sized PCM
        await ws.send_str(outgoing("dtmf", digit="0"))
        messages = []
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                messages.append(json.loads(message.data))
                if messages[-1]["type"] == "transfer":
                    break
    assert messages[-1]["type"] == "transfer"


async def test_bad_handshakes_are_refused_with_a_reason(server: VoiceServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.call_url) as ws:
            await ws.send_str('{"type": "start", "sample_rate": 44100}')
            reply = await ws.receive()
            assert json.loads(reply.data) == {
                "type": "error", "message": "sample_rate 44100 not supported (use 8000 or 16000)"}
        url = server.call_url.replace("/call", "/asterisk")
        async with session.ws_connect(url) as ws:
            await ws.send_str("MEDIA_START connection_id:c1 format:opus")
            closing = await ws.receive()
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert "format 'opus' not supported" in closing.extra


async def test_vanishing_clients_leave_the_server_serving(server: VoiceServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.audiosocket_port)
    writer.write(b"\x07\x00\x00")  # unknown kind: dropped
    await writer.drain()
    assert await reader.read() == b""
    async with aiohttp.ClientSession() as session, session.ws_connect(server.call_url) as ws:
        await ws.send_str(outgoing("start", sample_rate=8000))
        await ws.receive()
    # the client vanished mid-call; a new call is still answered
    reader, writer = await asyncio.open_connection("127.0.0.1", server.audiosocket_port)
    writer.write(bytes(AudioSocketMessage.uuid("0c1b8bde-5f00-4c3b-9a3e-6c2f4a4b9d11")))
    await writer.drain()
    first = await asyncio.wait_for(reader.readexactly(3), 10)
    assert first[0] == 0x10
    writer.close()
    assert server.process.poll() is None


def test_sigterm_stops_gracefully(nlu_cache: Path, brain: object) -> None:
    with voice_server(nlu_cache) as running:
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=60) == 0
        assert "stopping: no new calls" in running.log_text()


@pytest.fixture
def whisper_server(french_server: tuple[VoiceServer, str]) -> VoiceServer:
    return french_server[0]


@pytest.mark.parametrize(
    ("clip", "intent", "action"),
    [("fr_personne", "request_human", "transfer"), ("fr_poubelles", "waste_collection", "answer")],
)
async def test_french_question_understood_end_to_end(whisper_server: VoiceServer, clip: str,
                                                     intent: str, action: str) -> None:
    """French caller speech (espeak-ng + mbrola) → Whisper → NLU → policy → Piper → caller."""
    report = await call_websocket(whisper_server.call_url, [Step("wav", str(AUDIO / f"{clip}.wav"))])
    caller_turns = [t for t in report.turns if t.get("caller")]
    assert caller_turns, f"nothing recognised:\n{whisper_server.log_text()[-2000:]}"
    assert (caller_turns[0]["intent"], caller_turns[0]["action"]) == (intent, action)
    assert report.turn_latencies_ms, "no answer audio came back after the question"
