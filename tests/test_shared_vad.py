"""Silero VAD on one shared ONNX session: the same verdicts as pipecat's own analyzer."""

from __future__ import annotations

import asyncio

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState
from speech_support import PHONE_RATE_HZ, clip

from callbot.speech.audio import chunks, silence
from callbot.speech.silero_vad import SharedSileroVADAnalyzer, load_silero_session


def _states(analyzer: SileroVADAnalyzer, audio: bytes) -> list[VADState]:
    analyzer.set_sample_rate(PHONE_RATE_HZ)

    async def run() -> list[VADState]:
        return [await analyzer.analyze_audio(piece) for piece in chunks(audio, PHONE_RATE_HZ, 20)]

    return asyncio.run(run())


def test_shared_session_gives_pipecat_verdicts_frame_by_frame() -> None:
    audio = silence(0.5, PHONE_RATE_HZ) + clip("fr_horaires") + silence(1.0, PHONE_RATE_HZ)
    params = VADParams(stop_secs=0.3)
    session = load_silero_session()
    own = _states(SileroVADAnalyzer(sample_rate=PHONE_RATE_HZ, params=params), audio)
    shared = _states(SharedSileroVADAnalyzer(session, sample_rate=PHONE_RATE_HZ, params=params),
                     audio)
    assert shared == own
    assert VADState.SPEAKING in shared and shared[-1] is VADState.QUIET


def test_calls_on_one_session_keep_their_own_state() -> None:
    """Interleaved calls (speech on one, silence on the other) do not leak into each other."""
    session = load_silero_session()
    speech = silence(0.3, PHONE_RATE_HZ) + clip("fr_poubelles")
    quiet = silence(len(speech) / 2 / PHONE_RATE_HZ, PHONE_RATE_HZ)
    talker = SharedSileroVADAnalyzer(session, sample_rate=PHONE_RATE_HZ)
    listener = SharedSileroVADAnalyzer(session, sample_rate=PHONE_RATE_HZ)
    for analyzer in (talker, listener):
        analyzer.set_sample_rate(PHONE_RATE_HZ)

    async def run() -> tuple[set[VADState], set[VADState]]:
        heard: tuple[set[VADState], set[VADState]] = (set(), set())
        for a, b in zip(chunks(speech, PHONE_RATE_HZ, 20), chunks(quiet, PHONE_RATE_HZ, 20),
                        strict=False):
            heard[0].add(await talker.analyze_audio(a))
            heard[1].add(await listener.analyze_audio(b))
        return heard

    talker_states, listener_states = asyncio.run(run())
    assert VADState.SPEAKING in talker_states
    assert listener_states == {VADState.QUIET}
