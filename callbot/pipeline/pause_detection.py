"""Tell the recogniser when the caller pauses, before the VAD ends the turn.

The VAD ends a turn after ``stop_secs`` of silence (0.25 s): a pause shorter than that is a
comma, longer is the end of the question. Vosk's ``FinalResult`` (closing the utterance, the
costly part of recognition) used to start only then, on the critical path of the answer. A
``CallerPausedFrame`` after ``pause_sec`` of that silence lets the recogniser close the
utterance while the VAD is still counting, so the transcript is ready when the turn ends. If the
caller speaks again, the turn simply goes on with a second utterance (as after one of Vosk's
own endpoints): the words of both are the turn's transcript.
"""

from __future__ import annotations

from typing import Any

from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection

from callbot.pipeline.frames import CallerPausedFrame, CallerResumedFrame
from callbot.speech.silero_vad import SharedSileroVADAnalyzer


class PauseAwareVADProcessor(VADProcessor):
    """pipecat's ``VADProcessor`` that also pushes ``CallerPausedFrame`` / ``CallerResumedFrame``
    downstream (``pause_sec`` ≤ 0, or ≥ the VAD's ``stop_secs``: never)."""

    def __init__(self, *, vad_analyzer: SharedSileroVADAnalyzer, pause_sec: float,
                 **kwargs: Any) -> None:
        super().__init__(vad_analyzer=vad_analyzer, **kwargs)
        self._analyzer = vad_analyzer
        self._pause_sec = pause_sec
        self._paused = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)  # the audio is analysed once this returns
        if self._pause_sec <= 0 or not isinstance(frame, InputAudioRawFrame):
            return
        if not self._paused:
            if self._analyzer.pause_sec >= self._pause_sec:
                self._paused = True
                await self.push_frame(CallerPausedFrame())
        elif self._analyzer.state != VADState.STOPPING:  # spoke again, or the turn ended
            self._paused = False
            if self._analyzer.state == VADState.SPEAKING:
                await self.push_frame(CallerResumedFrame())
