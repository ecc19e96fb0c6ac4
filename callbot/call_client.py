"""``callbot call``: a scripted caller for a running bot, over the generic WebSocket protocol
or AudioSocket. Plays WAV files (8 or 16 kHz mono 16-bit) in real time, presses keys,
records the bot's audio and measures how fast it answers.

The caller keeps a ``Timeline`` of what went over the wire; the figures of the report (greeting,
turn and answer latencies) are computed from it when the call is over, as a person on the line
would have heard the call (``callbot.turn_timing`` says exactly how).
"""

from __future__ import annotations

import array
import asyncio
import json
import time
import uuid
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from callbot.bridge.audiosocket_wire import HEADER_BYTES, AudioSocketMessage, Kind, read_header
from callbot.bridge.generic_wire import outgoing
from callbot.playout import Playout
from callbot.turn_timing import (
    SPEECH_LEVEL,
    CallerTurn,
    Chunk,
    Timeline,
    TurnTiming,
    greeting_ms,
    turn_timings,
)

FRAME_SEC = 0.02
#: Silence sent after each caller utterance, so the bot's VAD sees the end of speech.
TRAILING_SILENCE_SEC = 1.0
#: Audio this recent means the bot is talking right now.
BOT_TALKING_SEC = 0.1
#: The bot is considered done talking after this long without audio.
BOT_QUIET_SEC = 0.8
#: How long a caller waits for the bot's answer (its turn report) after speaking.
ANSWER_TIMEOUT_SEC = 30.0


@dataclass
class Step:
    kind: str  # "wav", "dtmf", "wait"
    value: str


@dataclass
class CallReport:
    call_id: str = ""
    greeting_latency_ms: float | None = None  # call started → the greeting's first word heard
    turn_latencies_ms: list[float] = field(default_factory=list)  # speech end → bot audio heard
    # speech end → the answer's turn report (recognition + NLU + policy done; no TTS yet), and
    # how many times the bot spoke before it: "un instant" while the answer was late
    answer_latencies_ms: list[float] = field(default_factory=list)
    spoke_before_answer: int = 0
    timings: list[TurnTiming] = field(default_factory=list)  # per caller turn, see turn_timing
    timeline: Timeline | None = None
    turns: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    bot_audio: bytearray = field(default_factory=bytearray)
    ended_by: str = ""
    playout: Playout = field(default_factory=Playout)  # late bot frames, as this side hears them
    close_code: int | None = None  # WebSocket close code (1013: refused, over capacity)

    def to_dict(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "greeting_latency_ms": self.greeting_latency_ms,
                "turn_latencies_ms": self.turn_latencies_ms,
                "answer_latencies_ms": self.answer_latencies_ms,
                "spoke_before_answer": self.spoke_before_answer,
                "overlapped_turns": sum(t.overlapped for t in self.timings),
                "turns_cut_early": sum(t.cut_early for t in self.timings), "turns": self.turns,
                "events": self.events, "bot_audio_sec": len(self.bot_audio) / 2 / 8000,
                "ended_by": self.ended_by, "frames_received": self.playout.frames,
                "late_frames": self.playout.late}


def read_wav(path: Path, rate: int) -> bytes:
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2 or wav.getframerate() != rate:
            raise ValueError(f"{path}: need mono 16-bit {rate} Hz audio, got "
                             f"{wav.getnchannels()} ch, {wav.getsampwidth() * 8} bit, "
                             f"{wav.getframerate()} Hz")
        return wav.readframes(wav.getnframes())


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


def _speech_end(pcm: bytes, frame_bytes: int) -> int:
    """Offset of the frame after the last one with speech in it: where the caller stops
    talking, whatever silence the recording carries after that."""
    samples = array.array("h", pcm[: len(pcm) // 2 * 2])
    frame_samples = frame_bytes // 2
    last = 0
    for start in range(0, len(samples), frame_samples):
        if max((abs(x) for x in samples[start:start + frame_samples]), default=0) > SPEECH_LEVEL:
            last = start + frame_samples
    return last * 2


class _Caller:
    """Shared timing logic; subclasses move bytes over their protocol."""

    reports_turns = False  # whether the protocol tells the caller about each bot turn

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.report = CallReport()
        self.last_audio_at = 0.0
        self.waiting_since: float | None = None  # end of caller speech, awaiting first bot audio
        self.answer_awaited_since: float | None = None  # … awaiting the answer's turn report
        self.closed = asyncio.Event()
        self.timeline = Timeline(rate, time.monotonic())
        self.report.timeline = self.timeline

    def start(self) -> None:
        """The call's start message has just been sent: the greeting latency counts from here."""
        self.timeline.started_at = time.monotonic()

    def on_bot_audio(self, pcm: bytes) -> None:
        now = time.monotonic()
        self.timeline.bot.append(Chunk.of(now, pcm))
        self.waiting_since = None
        self.last_audio_at = now
        self.report.bot_audio.extend(pcm)
        self.report.playout.arrive(now, len(pcm) / 2 / self.rate)

    def on_clear(self) -> None:
        """Barge-in: the bot took back its unplayed audio (a real peer drops its buffer)."""
        self.timeline.clears.append(time.monotonic())

    def on_turn(self, turn: dict[str, Any]) -> None:
        """A bot turn report; the first one that answers the caller ends the wait for it."""
        self.report.turns.append(turn)
        self.timeline.reports.append((time.monotonic(), turn))
        if turn.get("caller"):
            self.answer_awaited_since = None

    def finish(self) -> CallReport:
        """The call is over: the report's figures, from the timeline."""
        report = self.report
        report.timings = turn_timings(self.timeline)
        report.greeting_latency_ms = greeting_ms(self.timeline)
        report.turn_latencies_ms = [t.latency_ms for t in report.timings
                                    if t.latency_ms is not None]
        report.answer_latencies_ms = [round((t.answer_at - t.speech_end) * 1000, 1)
                                      for t in report.timings if t.answer_at is not None]
        report.spoke_before_answer = sum(t.before_answer for t in report.timings)
        return report

    async def wait_answer(self) -> None:
        """Wait for the turn that answers what the caller said (protocols that report turns)."""
        deadline = time.monotonic() + ANSWER_TIMEOUT_SEC
        while self.answer_awaited_since is not None and time.monotonic() < deadline:
            if self.closed.is_set():
                return
            await asyncio.sleep(0.02)
        self.answer_awaited_since = None

    async def wait_bot_quiet(self, timeout_sec: float = 30.0) -> None:
        """Wait for the bot's answer to start (if one is awaited), then for it to end."""
        deadline = time.monotonic() + timeout_sec
        while self.waiting_since is not None and time.monotonic() < deadline:
            if self.closed.is_set():
                return
            await asyncio.sleep(0.02)
        await asyncio.sleep(BOT_QUIET_SEC)
        while time.monotonic() < deadline and not self.closed.is_set():
            if time.monotonic() - self.last_audio_at >= BOT_QUIET_SEC:
                return
            await asyncio.sleep(0.05)

    async def send_audio(self, pcm: bytes) -> None:
        raise NotImplementedError

    async def send_dtmf(self, digit: str) -> None:
        raise NotImplementedError

    async def play(self, pcm: bytes) -> None:
        """Real-time 20 ms frames, then silence, each kept in the timeline as sent."""
        frame_bytes = int(self.rate * FRAME_SEC) * 2
        silence = bytes(int(self.rate * TRAILING_SILENCE_SEC) * 2)
        audio = pcm + silence
        speech_end = _speech_end(pcm, frame_bytes)
        turn = CallerTurn()
        self.timeline.caller.append(turn)
        next_at = time.monotonic()
        for offset in range(0, len(audio), frame_bytes):
            if self.closed.is_set():
                return
            if speech_end <= offset < speech_end + frame_bytes:
                # End of speech: from now on, wait for the answer (unless the bot is already
                # talking: it answered a pause inside the sentence).
                bot_talking = time.monotonic() - self.last_audio_at < BOT_TALKING_SEC
                self.waiting_since = None if bot_talking else time.monotonic()
                if self.reports_turns:
                    self.answer_awaited_since = time.monotonic()
            chunk = audio[offset:offset + frame_bytes].ljust(frame_bytes, b"\0")
            turn.chunks.append(Chunk.of(time.monotonic(), chunk))
            await self.send_audio(chunk)
            next_at += FRAME_SEC
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def run_steps(self, steps: list[Step], wait_greeting: bool = True,
                        barge_in: bool = False) -> None:
        """``barge_in``: a hurried caller, who speaks again as soon as the turn report says
        what the bot answered, over its audio (protocols that report turns)."""
        if wait_greeting:
            await self.wait_bot_quiet()
        for step in steps:
            if self.closed.is_set():
                break
            if step.kind == "wav":
                await self.play(read_wav(Path(step.value), self.rate))
                await self.wait_answer()
                if barge_in and self.reports_turns:
                    continue
            elif step.kind == "dtmf":
                self.waiting_since = time.monotonic()
                self.timeline.caller.append(CallerTurn(key_at=self.waiting_since))
                await self.send_dtmf(step.value)
            else:
                await asyncio.sleep(float(step.value))
                continue
            await self.wait_bot_quiet()


class _WebSocketCaller(_Caller):
    reports_turns = True

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, rate: int) -> None:
        super().__init__(rate)
        self.ws = ws

    async def send_audio(self, pcm: bytes) -> None:
        await self.ws.send_bytes(pcm)

    async def send_dtmf(self, digit: str) -> None:
        await self.ws.send_str(outgoing("dtmf", digit=digit))

    async def receive(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.BINARY:
                self.on_bot_audio(message.data)
            elif message.type is aiohttp.WSMsgType.TEXT:
                data = json.loads(message.data)
                if data.get("type") == "turn":
                    self.on_turn(data)
                elif data.get("type") == "clear":
                    self.on_clear()
                    self.report.events.append(data)
                elif data.get("type") == "started":
                    self.report.call_id = data.get("call_id", "")
                else:
                    self.report.events.append(data)
                    if data.get("type") in {"transfer", "hangup"}:
                        self.report.ended_by = data["type"]
        self.closed.set()


class _AudioSocketCaller(_Caller):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(8000)
        self.reader, self.writer = reader, writer

    async def send_audio(self, pcm: bytes) -> None:
        self.writer.write(bytes(AudioSocketMessage.audio(pcm)))
        await self.writer.drain()

    async def send_dtmf(self, digit: str) -> None:
        self.writer.write(bytes(AudioSocketMessage.dtmf(digit)))
        await self.writer.drain()

    async def receive(self) -> None:
        try:
            while True:
                kind, length = read_header(await self.reader.readexactly(HEADER_BYTES))
                payload = await self.reader.readexactly(length)
                if kind is Kind.AUDIO:
                    self.on_bot_audio(payload)
                elif kind is Kind.HANGUP:
                    self.report.ended_by = "hangup"
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            self.report.ended_by = self.report.ended_by or "closed"
        self.closed.set()


async def call_websocket(url: str, steps: list[Step], rate: int = 8000,
                         caller: str | None = None, wait_greeting: bool = True,
                         barge_in: bool = False) -> CallReport:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        bot = _WebSocketCaller(ws, rate)
        await ws.send_str(outgoing("start", call_id=uuid.uuid4().hex, sample_rate=rate,
                                   caller=caller))
        bot.start()
        receiver = asyncio.create_task(bot.receive(), name="call-receive")
        await bot.run_steps(steps, wait_greeting, barge_in)
        if not bot.closed.is_set():
            await ws.send_str(outgoing("stop"))
            await ws.close()
        await receiver
        bot.report.close_code = ws.close_code
        return bot.finish()


async def call_audiosocket(host: str, port: int, steps: list[Step]) -> CallReport:
    reader, writer = await asyncio.open_connection(host, port)
    bot = _AudioSocketCaller(reader, writer)
    call_id = str(uuid.uuid4())
    bot.report.call_id = call_id
    writer.write(bytes(AudioSocketMessage.uuid(call_id)))
    await writer.drain()
    bot.start()
    receiver = asyncio.create_task(bot.receive(), name="call-receive")
    await bot.run_steps(steps)
    if not bot.closed.is_set():
        writer.write(bytes(AudioSocketMessage.hangup()))
        await writer.drain()
        writer.close()
    await receiver
    return bot.finish()
