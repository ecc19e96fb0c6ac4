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
