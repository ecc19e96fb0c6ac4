"""One pipecat transport for every bridge: a connection plus a serializer.

The connection moves whole messages (a WebSocket frame, an AudioSocket message); the
serializer translates them. The output paces audio at real time, a little ahead of it
(``SEND_AHEAD_SEC``, which the peer's buffer holds): far enough that a busy event loop does not
leave holes in the caller's ear, close enough that barge-in takes back nearly all unplayed audio.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from callbot.pipeline.frames import CallerHungUpFrame, HangupCallFrame, TransferCallFrame
from callbot.playout import TALK_SPURT_GAP_SEC


@dataclass(frozen=True)
class Pacing:
    """How the bot's audio goes to a peer: in frames of ``frame_ms``, ``send_ahead_sec`` ahead
    of the peer's playout (how long the event loop may stall without a hole in the audio)."""

    send_ahead_sec: float = 0.1
    frame_ms: int = 40


#: A peer that plays whatever it gets (AudioSocket, RTP) cannot take it back at barge-in.
PLAYS_AS_RECEIVED = Pacing()
#: A peer that buffers and re-times the audio and drops its buffer at barge-in (Asterisk
#: chan_websocket with FLUSH_MEDIA, the generic protocol with ``clear``): longer frames, fewer
#: of them to schedule, and half a second of margin.
BUFFERING_PEER = Pacing(send_ahead_sec=0.5, frame_ms=100)


class BridgeConnection(Protocol):
    """Whole messages in and out; ``receive`` returns ``None`` once the peer is gone."""

    async def receive(self) -> bytes | str | None: ...

    async def send(self, data: bytes | str) -> None: ...

    async def close(self) -> None: ...


CallEndHandler = Callable[[str, str], Awaitable[None]]  # (who: caller, bot or bridge; reason)


class BridgeInputTransport(BaseInputTransport):
    def __init__(self, connection: BridgeConnection, serializer: FrameSerializer,
                 on_end: CallEndHandler, params: TransportParams, **kwargs: object) -> None:
        super().__init__(params, **kwargs)
        self._connection, self._serializer, self._on_end = connection, serializer, on_end
        self._receive_task: asyncio.Task | None = None

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        if self._receive_task is None:
            self._receive_task = self.create_task(self._receive(), "bridge-receive")
        await self.set_transport_ready(frame)

    async def _stop_receiving(self) -> None:
        if self._receive_task is not None:
            await self.cancel_task(self._receive_task)
            self._receive_task = None

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._stop_receiving()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._stop_receiving()

    async def _receive(self) -> None:
        # gone without a hang-up message: the connection broke (an error, not a caller's choice)
        who, reason = "bridge", "connection lost"
        while True:
            data = await self._connection.receive()
            if data is None:
                break
            frame = await self._serializer.deserialize(data)
            if frame is None:
                continue
            if isinstance(frame, CallerHungUpFrame):
                who, reason = "caller", frame.reason
                break
            if isinstance(frame, InputAudioRawFrame):
                await self.push_audio_frame(frame)
            else:
                await self.push_frame(frame)
        await self._on_end(who, reason)


class BridgeOutputTransport(BaseOutputTransport):
    def __init__(self, connection: BridgeConnection, serializer: FrameSerializer,
                 on_end: CallEndHandler, params: TransportParams,
                 pacing: Pacing = PLAYS_AS_RECEIVED, **kwargs: object) -> None:
        super().__init__(params, **kwargs)
        self._connection, self._serializer, self._on_end = connection, serializer, on_end
        self._send_ahead_sec = pacing.send_ahead_sec
        self._play_end = 0.0  # when the peer will have played all audio sent so far
        self.frames_sent = 0
        self.late_frames = 0

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def _send(self, frame: Frame) -> bool:
        payload = await self._serializer.serialize(frame)
        if payload is None:
            return True
        try:
            await self._connection.send(payload)
        except (ConnectionError, RuntimeError, OSError) as exc:
            logger.debug(f"bridge send failed ({exc}); the call is over")
            await self._on_end("bridge", f"send failed: {exc}")
            return False
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            await self._send(frame)
            self._play_end = 0.0

    async def send_message(self, frame: OutputTransportMessageFrame
                           | OutputTransportMessageUrgentFrame) -> None:
        ending = isinstance(frame, TransferCallFrame | HangupCallFrame)
        if ending:  # the peer still plays the audio sent ahead: let it hear the last words
            await asyncio.sleep(max(0.0, self._play_end - time.monotonic()))
        await self._send(frame)
        if ending:
            await self._on_end("bot", frame.reason)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        if not await self._send(frame):
            return False
        self.frames_sent += 1
        await self._pace(len(frame.audio) / 2 / self.sample_rate)
        return True

    async def _pace(self, duration_sec: float) -> None:
        """Sleep until the next frame is due, ``send_ahead_sec`` before the peer plays it.

        The peer plays a talk-spurt from its first frame on; a frame sent after the audio
        before it has finished playing is late (the caller heard a hole). A gap longer than
        ``TALK_SPURT_GAP_SEC`` is a new talk-spurt (the bot was listening), not lateness.
        """
        now = time.monotonic()
        if self._play_end == 0.0 or now - self._play_end > TALK_SPURT_GAP_SEC:
            self._play_end = now
        elif now > self._play_end:
            self.late_frames += 1
            self._play_end = now
        self._play_end += duration_sec
        await asyncio.sleep(max(0.0, self._play_end - self._send_ahead_sec - now))


class BridgeTransport(BaseTransport):
    """Input and output of one call over one bridge connection."""

    def __init__(self, connection: BridgeConnection, serializer: FrameSerializer,
                 params: TransportParams, on_end: CallEndHandler,
                 pacing: Pacing = PLAYS_AS_RECEIVED) -> None:
        super().__init__()
        self._input = BridgeInputTransport(connection, serializer, on_end, params)
        self._output = BridgeOutputTransport(connection, serializer, on_end, params, pacing)

    def input(self) -> BridgeInputTransport:
        return self._input

    def output(self) -> BridgeOutputTransport:
        return self._output
