"""The pipeline pieces of an answered outbound call: what the callee says, what the bot says.

input → Silero VAD → ``AmdTap`` → recogniser → ``OutboundDriver`` → Piper → output: the inbound
call's pipeline with the conversation processor replaced by a driver that the campaign's
policy (``callbot/campaigns/``) steers from outside (say, listen, transfer, hang up). Both are
thin: the tap feeds the VAD's state to the clock-free ``AnsweringMachineDetector``; the
driver turns transcripts and keys into ``Heard`` events and text into ``TTSSpeakFrame``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from callbot.speech.amd_vad import SPEECH_STATES, feed_state
from callbot.speech.answering_machine import AmdDecision, AmdVerdict, AnsweringMachineDetector
from callbot.speech.silero_vad import SharedSileroVADAnalyzer


class HeardKind(StrEnum):
    SPEECH = "speech"
    DTMF = "dtmf"
    SILENCE = "silence"  # nothing within the time asked
    HANGUP = "hangup"  # the callee is gone


@dataclass(frozen=True)
class Heard:
    kind: HeardKind
    text: str = ""  # the transcript, or the key pressed
    confidence: float | None = None


class AmdTap(FrameProcessor):
    """After the VAD: each chunk of the callee's audio and the VAD's state go to the detector
    until it decides; then it keeps counting silence for ``wait_quiet`` (after a greeting)."""

    def __init__(self, analyzer: SharedSileroVADAnalyzer, detector: AnsweringMachineDetector,
                 on_decision: Callable[[AmdDecision], None], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._analyzer, self.detector, self._on_decision = analyzer, detector, on_decision
        self.quiet_sec = 0.0  # silence since the callee's last speech, audio time
        self.quiet = asyncio.Condition()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            state = self._analyzer.state
            chunk_sec = len(frame.audio) / 2 / frame.sample_rate
            self.quiet_sec = 0.0 if state in SPEECH_STATES else self.quiet_sec + chunk_sec
            if self.detector.decision is None:
                verdict = feed_state(self.detector, state, len(frame.audio), frame.sample_rate)
                if verdict != AmdVerdict.UNDECIDED:
                    assert self.detector.decision is not None
                    self._on_decision(self.detector.decision)
            async with self.quiet:
                self.quiet.notify_all()
        await self.push_frame(frame, direction)


class OutboundDriver(FrameProcessor):
    """After the recogniser: ``heard`` gets what the callee says or keys; ``say`` speaks."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.heard: asyncio.Queue[Heard] = asyncio.Queue()
        self.started = asyncio.Event()  # the pipeline runs: frames may be pushed
        self.speaking = asyncio.Event()  # the bot's audio is going out
        self.quiet = asyncio.Event()  # it is not
        self.quiet.set()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            if frame.text.strip():
                result = frame.result if isinstance(frame.result, dict) else {}
                confidence = result.get("confidence")
                self.heard.put_nowait(Heard(HeardKind.SPEECH, frame.text.strip(),
                                            float(confidence) if confidence is not None else None))
            return
        if isinstance(frame, InputDTMFFrame):
            self.heard.put_nowait(Heard(HeardKind.DTMF, str(frame.button.value)))
            return
        if isinstance(frame, BotStartedSpeakingFrame):
            self.quiet.clear()
            self.speaking.set()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self.speaking.clear()
            self.quiet.set()
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.started.set()

    async def say(self, text: str) -> None:
        """Queue ``text`` for the voice; what was heard before it is no answer to it: dropped."""
        while not self.heard.empty():
            self.heard.get_nowait()
        self.speaking.clear()
        await self.push_frame(TTSSpeakFrame(text))

    async def send(self, frame: Frame) -> None:
        """A transfer or hang-up frame, in order after the words queued."""
        await self.push_frame(frame)
