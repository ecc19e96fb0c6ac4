"""What the answering-machine detector hears: the call's Silero VAD state, chunk by chunk.

One definition for the live call (``callbot.sip.outbound_audio``) and for ``callbot bench amd``,
so that the bench measures what calls do. A chunk counts as speech while the VAD is SPEAKING
or STOPPING (counting down the silence that ends a turn): its ``stop_secs`` bridges the pauses
between words, and its ``start_secs`` keeps a click from counting.
"""

from __future__ import annotations

from pipecat.audio.vad.vad_analyzer import VADState

from callbot.speech.answering_machine import AmdVerdict, AnsweringMachineDetector
from callbot.speech.silero_vad import SharedSileroVADAnalyzer

SPEECH_STATES = frozenset({VADState.SPEAKING, VADState.STOPPING})
SAMPLE_WIDTH_BYTES = 2


def feed_state(detector: AnsweringMachineDetector, state: VADState, chunk_bytes: int,
               rate_hz: int) -> AmdVerdict:
    """One chunk of ``chunk_bytes`` PCM16, which left the VAD in ``state``."""
    return detector.process(chunk_bytes / SAMPLE_WIDTH_BYTES / rate_hz, state in SPEECH_STATES)


async def feed_audio(detector: AnsweringMachineDetector, vad: SharedSileroVADAnalyzer,
                     chunk: bytes, rate_hz: int) -> AmdVerdict:
    """Run one chunk through ``vad`` (the bench's own), then the detector."""
    return feed_state(detector, await vad.analyze_audio(chunk), len(chunk), rate_hz)
