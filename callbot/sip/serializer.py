"""pipecat serializer of a SIP call: PCM ↔ G.711, and the call-control words of ``RtpMedia``."""

from __future__ import annotations

from pipecat.frames.frames import Frame, InputAudioRawFrame, InterruptionFrame, OutputAudioRawFrame
from pipecat.serializers.base_serializer import FrameSerializer

from callbot.bridge import g711
from callbot.bridge.serializers import dtmf_frame
from callbot.pipeline.frames import CallerHungUpFrame, HangupCallFrame, TransferCallFrame
from callbot.sip.rtp_wire import CLOCK_RATE_HZ


class SipSerializer(FrameSerializer):
    """Audio as G.711 payload bytes; control as ``verb:argument`` text (see callbot.sip.media)."""

    sample_rate = CLOCK_RATE_HZ

    def __init__(self, codec: str) -> None:
        super().__init__()
        self.codec = codec  # "ulaw" or "alaw"

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return g711.encode(frame.audio, self.codec)
        if isinstance(frame, InterruptionFrame):
            return "flush"
        if isinstance(frame, TransferCallFrame):
            return f"transfer:{frame.reason}"
        if isinstance(frame, HangupCallFrame):
            return f"hangup:{frame.reason}"
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            return InputAudioRawFrame(g711.decode(data, self.codec), self.sample_rate, 1)
        verb, _, argument = data.partition(":")
        if verb == "dtmf":
            return dtmf_frame(argument)
        if verb == "hangup":
            return CallerHungUpFrame(reason=argument)
        return None
