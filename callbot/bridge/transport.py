"""One pipecat transport for every bridge: a connection plus a serializer.

The connection moves whole messages (a WebSocket frame, an AudioSocket message); the
serializer translates them. The output paces audio at real time so that barge-in can
take back what has not been played yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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

#: Longer than this without audio to send, the bot was silent: the next frame starts afresh.
TALK_SPURT_GAP_SEC = 0.25


class BridgeConnection(Protocol):
    """Whole messages in and out; ``receive`` returns ``None`` once the peer is gone."""

    async def receive(self) -> bytes | str | None: ...

    async def send(self, data: bytes | str) -> None: ...

    async def close(self) -> None: ...


CallEndHandler = Callable[[str, str], Awaitable[None]]  # (who, reason)


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
        reason = "peer_closed"
        while True:
            data = await self._connection.receive()
            if data is None:
                break
            frame = await self._serializer.deserialize(data)
            if frame is None:
                continue
            if isinstance(frame, CallerHungUpFrame):
                reason = frame.reason
                break
            if isinstance(frame, InputAudioRawFrame):
                await self.push_audio_frame(frame)
            else:
                await self.push_frame(frame)
        await self._on_end("caller", reason)


class BridgeOutputTransport(BaseOutputTransport):
    def __init__(self, connection: BridgeConnection, serializer: FrameSerializer,
                 on_end: CallEndHandler, params: TransportParams, **kwargs: object) -> None:
        super().__init__(params, **kwargs)
        self._connection, self._serializer, self._on_end = connection, serializer, on_end
        self._next_send_time = 0.0
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
            self._next_send_time = 0.0

    async def send_message(self, frame: OutputTransportMessageFrame
                           | OutputTransportMessageUrgentFrame) -> None:
        await self._send(frame)
        if isinstance(frame, TransferCallFrame | HangupCallFrame):
            await self._on_end("bot", frame.reason)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        if not await self._send(frame):
            return False
        self.frames_sent += 1
        await self._pace(len(frame.audio) / 2 / self.sample_rate)
        return True

    async def _pace(self, duration_sec: float) -> None:
        """Sleep so audio leaves at real time; count frames that left late.

        A frame is late when it leaves more than one frame after its slot while the bot is
        talking; a longer gap is a new talk-spurt (the bot was listening), not lateness.
        """
        now = time.monotonic()
        behind = now - self._next_send_time
        if self._next_send_time == 0.0 or behind > TALK_SPURT_GAP_SEC:
            self._next_send_time = now
        elif behind > duration_sec:
            self.late_frames += 1
            self._next_send_time = now
        self._next_send_time += duration_sec
        await asyncio.sleep(max(0.0, self._next_send_time - now - duration_sec / 2))


class BridgeTransport(BaseTransport):
    """Input and output of one call over one bridge connection."""

    def __init__(self, connection: BridgeConnection, serializer: FrameSerializer,
                 params: TransportParams, on_end: CallEndHandler) -> None:
        super().__init__()
        self._input = BridgeInputTransport(connection, serializer, on_end, params)
        self._output = BridgeOutputTransport(connection, serializer, on_end, params)

    def input(self) -> BridgeInputTransport:
        return self._input

    def output(self) -> BridgeOutputTransport:
        return self._output
