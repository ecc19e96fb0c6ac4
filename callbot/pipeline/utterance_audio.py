"""Keeps what the caller's last sentence sounded like, for the audio of a message.

In a call's pipeline only when the town keeps message audio (``store.recording`` on, see
``callbot.store.message_audio``): between the VAD and the recogniser, it gathers the input
audio from the VAD's start to its stop, with a short pre-roll (the VAD starts late by its
start delay), and pushes it as a ``HeardAudioFrame`` right after the stop. The conversation
processor hands it to ``Conversation.hear`` with the transcript that follows; nothing is
written unless that sentence becomes a message.
"""

from __future__ import annotations

from collections import deque

from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from callbot.pipeline.frames import HeardAudioFrame

PRE_ROLL_SEC = 0.5
#: A message longer than this keeps its first minute (the transcript has all of it).
MAX_SENTENCE_SEC = 60.0


class UtteranceAudio(FrameProcessor):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._before: deque[InputAudioRawFrame] = deque()
        self._sentence: list[bytes] | None = None  # None: the caller is not speaking
        self._bytes = 0  # in the sentence
        self._held = 0  # in the pre-roll
        self._rate = 16000

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and frame.num_channels == 1:
            self._keep(frame)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._sentence = [f.audio for f in self._before]
            self._bytes = sum(len(chunk) for chunk in self._sentence)
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and self._sentence is not None:
            pcm, self._sentence = b"".join(self._sentence), None
            await self.push_frame(HeardAudioFrame(pcm=pcm, sample_rate=self._rate), direction)

    def _keep(self, frame: InputAudioRawFrame) -> None:
        self._rate = frame.sample_rate
        if self._sentence is not None:
            if self._bytes < MAX_SENTENCE_SEC * self._rate * 2:
                self._sentence.append(frame.audio)
                self._bytes += len(frame.audio)
            return
        self._before.append(frame)
        self._held += len(frame.audio)
        while self._held - len(self._before[0].audio) >= PRE_ROLL_SEC * self._rate * 2:
            self._held -= len(self._before.popleft().audio)
