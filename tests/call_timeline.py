"""A caller that timestamps all it hears, and a reader of what the call log kept.

For the fail-to-a-person and restart tests: when the bot's audio arrived (it is paced at
real time, so arrival is when the caller hears it), when the caller spoke, when the
transfer came; from that, the longest dead air of the call.
"""

from __future__ import annotations

import array
import asyncio
import inspect
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from callbot.bridge.generic_wire import outgoing
from callbot.call_client import read_wav
from callbot.config import StoreSettings
from callbot.conversation.prompts import TRANSFER_AFTER_FAILURE
from callbot.store.database import engine_from_settings
from callbot.store.schema import calls, line_events, turns

RATE_HZ = 8000
FRAME_SEC = 0.02
BOT_QUIET_SEC = 0.8  # no bot audio for this long: the bot has finished talking
TRAILING_SILENCE_SEC = 1.0
NOTICEABLE_SEC = 0.1  # shorter gaps between audio frames are network jitter, not silence


@dataclass
class Timeline:
    """One call as the caller lived it; times are ``time.monotonic()``."""

    call_id: str
    started_at: float
    audio: list[tuple[float, float]] = field(default_factory=list)  # (arrival, seconds)
    caller: list[tuple[float, float]] = field(default_factory=list)  # spans the caller spoke
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    turns: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    triggers: list[float] = field(default_factory=list)  # when each caller step ended
    closed_at: float | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def event(self, kind: str) -> tuple[float, dict[str, Any]] | None:
        return next(((t, e) for t, e in self.events if e.get("type") == kind), None)

    def failure_turn(self, log_tail: str) -> float:
        """When the bot said the fallback prompt and handed the call over after a failure."""
        failure = next(((t, turn) for t, turn in self.turns
                        if turn.get("transfer_reason") == "failure"), None)
        assert failure is not None, f"{self.call_id}: no failure turn:\n{log_tail}"
        failed_at, turn = failure
        assert turn["bot"] == TRANSFER_AFTER_FAILURE and turn["action"] == "transfer"
        return failed_at

    def audio_sec(self, after: float = 0.0) -> float:
        return sum(d for t, d in self.audio if t >= after)

    def first_audio_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.audio if t >= moment), None)

    def last_audio_end(self) -> float:
        return max((t + d for t, d in self.audio), default=self.started_at)

    def silences(self) -> list[tuple[float, float]]:
        """(from the call start, seconds) of every stretch where nobody spoke, start to end."""
        end = self.closed_at or time.monotonic()
        transfer = self.event("transfer")
        if transfer is not None:
            end = min(end, transfer[0])
        spans = sorted([(t, t + d) for t, d in self.audio] + self.caller)
        cursor, found = self.started_at, []
        for start, stop in [*spans, (end, end)]:
            if start - cursor > NOTICEABLE_SEC:
                found.append((round(cursor - self.started_at, 2), round(start - cursor, 2)))
            cursor = max(cursor, stop)
        return found

    def dead_air_sec(self) -> float:
        """The longest silence of the call."""
        return max((length for _, length in self.silences()), default=0.0)


def speech_end_sec(pcm: bytes, level: int = 600) -> float:
    """Where the caller stops talking in a clip, whatever silence follows."""
    samples = array.array("h", pcm[: len(pcm) // 2 * 2])
    step = int(RATE_HZ * FRAME_SEC)
    last = 0
    for start in range(0, len(samples), step):
        if max((abs(x) for x in samples[start:start + step]), default=0) > level:
            last = start + step
    return last / RATE_HZ


async def _receive(ws: aiohttp.ClientWebSocketResponse, line: Timeline) -> None:
    async for message in ws:
        now = time.monotonic()
        if message.type is aiohttp.WSMsgType.BINARY:
            line.audio.append((now, len(message.data) / 2 / RATE_HZ))
        elif message.type is aiohttp.WSMsgType.TEXT:
            data = json.loads(message.data)
            if data.get("type") == "turn":
                line.turns.append((now, data))
            else:
                line.events.append((now, data))
    line.closed_at = time.monotonic()
    line.closed.set()


async def _bot_quiet(line: Timeline, timeout_sec: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_sec
    while not line.closed.is_set() and time.monotonic() < deadline:
        if line.audio and time.monotonic() - line.last_audio_end() >= BOT_QUIET_SEC:
            return
        await asyncio.sleep(0.05)


async def _play(ws: aiohttp.ClientWebSocketResponse, line: Timeline, wav: Path) -> None:
    """Real-time 20 ms frames, then silence so the bot's VAD hears the end of speech."""
    speech = read_wav(wav, RATE_HZ)
    audio = speech + bytes(int(RATE_HZ * TRAILING_SILENCE_SEC) * 2)
    frame = int(RATE_HZ * FRAME_SEC) * 2
    started = next_at = time.monotonic()
    for offset in range(0, len(audio), frame):
        if line.closed.is_set():
            return
        await ws.send_bytes(audio[offset:offset + frame].ljust(frame, b"\0"))
        next_at += FRAME_SEC
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    spoke_until = started + speech_end_sec(speech)
    line.caller.append((started, spoke_until))
    line.triggers.append(spoke_until)


async def timed_call(url: str, steps: list[tuple[str, str]], end_timeout_sec: float = 45.0,
                     hang_up: bool = True) -> Timeline:
    """Greeting, then each step (``("dtmf", "0")``, ``("wav", path)``, ``("wait", "2")``,
    ``("turn", "30")``: an answer to speech within 30 s) after the bot falls quiet; then
    waits for the bot to end the call (or hangs up)."""
    call_id = f"t-{uuid.uuid4().hex[:12]}"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        line = Timeline(call_id, time.monotonic())
        await ws.send_str(outgoing("start", call_id=call_id, sample_rate=RATE_HZ))
        receiver = asyncio.create_task(_receive(ws, line), name="timeline-receive")
        for kind, value in steps:
            await _bot_quiet(line)
            if line.closed.is_set():
                break
            if kind == "dtmf":
                await ws.send_str(outgoing("dtmf", digit=value))
                line.triggers.append(time.monotonic())
            elif kind == "wav":
                await _play(ws, line, Path(value))
            elif kind == "turn":  # the bot's answer to the caller's words, however slow
                await wait_until(lambda: line.closed.is_set() or any(
                    turn.get("caller") for _, turn in line.turns), "an answer", float(value))
            else:
                await asyncio.sleep(float(value))
        try:
            await asyncio.wait_for(line.closed.wait(), end_timeout_sec)
        except TimeoutError:
            if hang_up:
                await ws.send_str(outgoing("stop"))
            await ws.close()
        await receiver
        return line


async def wait_until(condition: Callable[[], Awaitable[bool] | bool], what: str,
                     timeout_sec: float = 30.0) -> None:
    """Poll ``condition`` (plain or async) every 0.1 s; fail the test if it never holds."""
    deadline = time.monotonic() + timeout_sec
    for _ in itertools.count():
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_sec:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class StoredCall:
    call: dict[str, Any]
    turns: list[dict[str, Any]]
    events: list[dict[str, Any]]


async def stored_call(store: StoreSettings, call_id: str, timeout_sec: float = 15.0,
                      closed: bool = True) -> StoredCall:
    """The call as the call log has it, once it is there (and, with ``closed``, ended)."""
    engine = engine_from_settings(store)
    deadline = time.monotonic() + timeout_sec
    try:
        while True:
            try:
                async with engine.connect() as connection:
                    row = (await connection.execute(
                        select(calls).where(calls.c.id == call_id))).mappings().first()
                    if row is not None and (row["outcome"] or not closed):
                        turn_rows = (await connection.execute(
                            select(turns).where(turns.c.call_id == call_id)
                            .order_by(turns.c.seq))).mappings().all()
                        event_rows = (await connection.execute(
                            select(line_events).where(line_events.c.call_id == call_id)
                            .order_by(line_events.c.seq))).mappings().all()
                        return StoredCall(dict(row), [dict(r) for r in turn_rows],
                                          [dict(r) for r in event_rows])
            except Exception:  # not migrated yet: the writer has not written anything
                if time.monotonic() >= deadline:
                    raise
            if time.monotonic() >= deadline:
                raise AssertionError(f"call {call_id} not (closed) in the call log "
                                     f"after {timeout_sec:.0f} s")
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
