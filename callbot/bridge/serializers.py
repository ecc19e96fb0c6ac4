"""pipecat serializers for the three bridges: bytes/text on the wire ↔ frames.

Each returns ``None`` for what is not its business (pipecat's contract). The handshake
(first message, which fixes codec and rate) is read by the server before the pipeline
exists; these serializers handle everything after it.
"""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.serializers.base_serializer import FrameSerializer

from callbot.bridge import g711
from callbot.bridge.audiosocket_wire import AudioSocketError, AudioSocketMessage, Kind
from callbot.bridge.chan_websocket_wire import Command, ControlError, ControlEvent, command_text
from callbot.bridge.generic_wire import GenericMessage, GenericProtocolError, outgoing
from callbot.pipeline.frames import (
    BridgeFlowFrame,
    CallerHungUpFrame,
    HangupCallFrame,
    TransferCallFrame,
)

try:
    from pipecat.frames.frames import KeypadEntry
except ImportError:  # pragma: no cover - older pipecat
    KeypadEntry = None  # type: ignore[assignment,misc]


def dtmf_frame(digit: str) -> InputDTMFFrame | None:
    if KeypadEntry is None:
        return None
    try:
        return InputDTMFFrame(button=KeypadEntry(digit))
    except ValueError:
        logger.warning(f"ignoring unknown DTMF digit {digit!r}")
        return None


class ChanWebsocketSerializer(FrameSerializer):
    """Asterisk chan_websocket: BINARY audio in the negotiated codec, TEXT control."""

    def __init__(self, codec: str, sample_rate: int, json_format: bool) -> None:
        super().__init__()
        self.codec, self.sample_rate, self.json_format = codec, sample_rate, json_format

    def _command(self, command: Command, **params: str) -> str:
        return command_text(command, self.json_format, **params)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return g711.encode(frame.audio, self.codec)
        if isinstance(frame, InterruptionFrame):
            return self._command(Command.FLUSH_MEDIA)
        if isinstance(frame, HangupCallFrame | TransferCallFrame | EndFrame):
            return self._command(Command.HANGUP)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            if self.codec.startswith("slin") and len(data) % 2:
                logger.warning("chan_websocket: odd-sized slin frame dropped")
                return None
            return InputAudioRawFrame(g711.decode(data, self.codec), self.sample_rate, 1)
        try:
            event = ControlEvent.parse(data)
        except ControlError as exc:
            logger.warning(f"chan_websocket: {exc}")
            return None
        if event.name == "DTMF_END":
            return dtmf_frame(event.params.get("digit", ""))
        if event.name in {"MEDIA_XOFF", "MEDIA_XON"}:
            return BridgeFlowFrame(paused=event.name == "MEDIA_XOFF")
        if event.name == "HANGUP":
            return CallerHungUpFrame(reason="asterisk_hangup")
        return None


class GenericSerializer(FrameSerializer):
    """The documented generic protocol (see ``callbot.bridge.generic_wire``)."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = sample_rate

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return frame.audio
        if isinstance(frame, InterruptionFrame):
            return outgoing("clear")
        if isinstance(frame, TransferCallFrame):
            return outgoing("transfer", reason=frame.reason, target=frame.target)
        if isinstance(frame, HangupCallFrame):
            return outgoing("hangup", reason=frame.reason)
        if isinstance(frame, OutputTransportMessageUrgentFrame) and isinstance(frame.message, dict):
            return outgoing("turn", **frame.message)  # what the bot understood and said
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            if len(data) % 2:
                logger.warning("generic bridge: odd-sized PCM frame dropped")
                return None
            return InputAudioRawFrame(data, self.sample_rate, 1)
        try:
            message = GenericMessage.parse(data)
        except GenericProtocolError as exc:
            logger.warning(f"generic bridge: {exc}")
            return None
        if message.type == "dtmf":
            return dtmf_frame(message.digit)
        if message.type == "stop":
            return CallerHungUpFrame(reason="caller_stop")
        return None


class AudioSocketSerializer(FrameSerializer):
    """Asterisk AudioSocket: signed linear 8 kHz; one whole message per ``deserialize``."""

    sample_rate = 8000

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return bytes(AudioSocketMessage.audio(frame.audio))
        if isinstance(frame, HangupCallFrame):
            return bytes(AudioSocketMessage.hangup())
        # A transfer is the socket closing without a hangup message: Asterisk's
        # AudioSocket() returns and the dialplan goes on to the switchboard.
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, str):
            return None
        try:
            message = AudioSocketMessage.parse(data)
        except AudioSocketError as exc:
            logger.warning(f"audiosocket: {exc}")
            return None
        if message.kind is Kind.AUDIO:
            return InputAudioRawFrame(message.payload, self.sample_rate, 1)
        if message.kind is Kind.DTMF:
            return dtmf_frame(message.digit)
        if message.kind is Kind.HANGUP:
            return CallerHungUpFrame(reason="audiosocket_hangup")
        if message.kind is Kind.ERROR:
            logger.warning(f"audiosocket: peer reported an error {message.payload!r}")
        return None
