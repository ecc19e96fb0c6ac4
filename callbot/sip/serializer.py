"""pipecat serializer of a SIP call: PCM ↔ the call's codec, and the call-control words of
``RtpMedia``."""

from __future__ import annotations

from pipecat.frames.frames import Frame, InputAudioRawFrame, InterruptionFrame, OutputAudioRawFrame
from pipecat.serializers.base_serializer import FrameSerializer

from callbot.bridge.serializers import dtmf_frame
from callbot.pipeline.frames import CallerHungUpFrame, HangupCallFrame, TransferCallFrame
from callbot.sip.codecs import Codec


class SipSerializer(FrameSerializer):
    """Audio as payload bytes of the call's codec (G.711 at 8 kHz, G.722 at 16 kHz); control as
    ``verb:argument`` text (see callbot.sip.media)."""

    def __init__(self, codec: Codec) -> None:
        super().__init__()
        self.codec = codec
        self.sample_rate = codec.sample_rate_hz
        self._coder = codec.coder()  # this call's: G.722 keeps state in both directions

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return self._coder.encode(frame.audio)
        if isinstance(frame, InterruptionFrame):
            return "flush"
        if isinstance(frame, TransferCallFrame):
            return f"transfer:{frame.reason}"
        if isinstance(frame, HangupCallFrame):
            return f"hangup:{frame.reason}"
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            return InputAudioRawFrame(self._coder.decode(data), self.sample_rate, 1)
        verb, _, argument = data.partition(":")
        if verb == "dtmf":
            return dtmf_frame(argument)
        if verb == "hangup":
            return CallerHungUpFrame(reason=argument)
        return None
