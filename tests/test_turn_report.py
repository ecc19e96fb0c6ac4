"""The turn report's timing fields (``ConversationProcessor``), fed with frames (pipecat ``run_test``).

The real conversation (brain fixture: NLU, policy, knowledge base); no audio: the point is which
VAD stop a transcript is timed from.
"""

from __future__ import annotations

from pipecat.frames.frames import (
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from callbot.brain import Brain
from callbot.pipeline.conversation_processor import ConversationProcessor
from callbot.pipeline.turn_taking import TurnTakingParams


def _transcript(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, "caller", "2026-12-01T10:30:00", result={"confidence": 0.9})


async def test_each_transcript_is_timed_from_its_own_vad_stop(brain: Brain) -> None:
    """Two turns ended before the first transcript came (a busy recogniser): the first report
    counts from the first stop, not the latest one."""
    processor = ConversationProcessor(brain.conversation(), TurnTakingParams())
    down, _ = await run_test(processor, frames_to_send=[
        VADUserStoppedSpeakingFrame(), SleepFrame(0.3), VADUserStoppedSpeakingFrame(),
        _transcript("quels sont les horaires de la mairie"), SleepFrame(0.1),
        _transcript("et le samedi")])
    reports = [f.message for f in down if isinstance(f, OutputTransportMessageUrgentFrame)
               and f.message.get("caller")]
    assert [r["caller"] for r in reports] == ["quels sont les horaires de la mairie",
                                              "et le samedi"]
    first, second = (r["after_vad_stop_ms"] for r in reports)
    assert first >= 300 > second
    assert reports[0]["latencies_ms"]["stt_after_speech"] <= first
