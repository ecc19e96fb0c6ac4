"""Frames of our own that travel through the pipecat pipeline of a call."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import OutputTransportMessageFrame, SystemFrame


@dataclass
class TransferCallFrame(OutputTransportMessageFrame):
    """Hand the caller to a person: the bridge turns it into its transfer message.

    A transport message, so the output sends it in order, after the transfer prompt's audio.
    """

    reason: str = ""
    target: str = ""


@dataclass
class HangupCallFrame(OutputTransportMessageFrame):
    """The bot ends the call once its last words have been played."""

    reason: str = ""


@dataclass
class CallerHungUpFrame(SystemFrame):
    """The peer said the caller is gone (HANGUP, stop, AudioSocket 0x00)."""

    reason: str = ""


@dataclass
class NothingRecognisedFrame(SystemFrame):
    """The caller made a sound (a cough, line noise) but no word came of it: no answer is owed."""


@dataclass
class BridgeFlowFrame(SystemFrame):
    """Flow control from the peer (chan_websocket MEDIA_XOFF / MEDIA_XON)."""

    paused: bool = False


@dataclass
class CallerPausedFrame(SystemFrame):
    """The caller has been silent a moment inside a turn; the VAD has not ended the turn yet.

    The recogniser closes its utterance here, so that when the turn does end its transcript
    is ready (``callbot/pipeline/pause_detection.py``). A system frame, as input audio and
    the VAD's frames are in pipecat: frames of one tier keep their order, so it reaches the
    recogniser after the audio that came before it and before the audio after it.
    """


@dataclass
class CallerResumedFrame(SystemFrame):
    """The caller spoke again after a ``CallerPausedFrame``: the turn goes on."""


@dataclass
class HeardAudioFrame(SystemFrame):
    """What the caller's sentence that just ended sounded like (recording on only), pushed
    right after the VAD's stop and so before the recogniser's transcript of it."""

    pcm: bytes = b""
    sample_rate: int = 16000
