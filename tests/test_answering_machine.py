"""Answering-machine detection: the pure detector fed numbers, then two greetings through Silero.

The figures on the whole French set are ``callbot bench amd``'s (docs/telephony.md).
"""

from __future__ import annotations

import asyncio
import random
import shutil
from pathlib import Path

import pytest

from callbot.amd_bench import Sample, _espeak, _on_the_line, classify, figures
from callbot.speech.answering_machine import (
    AmdDecision,
    AmdParams,
    AmdReason,
    AmdVerdict,
    AnsweringMachineDetector,
)
from callbot.speech.audio import silence

CHUNK_SEC = 0.02


def feed(pattern: list[tuple[float, bool]], params: AmdParams | None = None) -> AmdDecision:
    """Run (seconds, is_speech) spans through a detector in 20 ms chunks, then expire it."""
    detector = AnsweringMachineDetector(params)
    for seconds, speech in pattern:
        for _ in range(round(seconds / CHUNK_SEC)):
            if detector.process(CHUNK_SEC, speech) != AmdVerdict.UNDECIDED:
                return detector.expire()
    return detector.expire()


@pytest.mark.parametrize(("pattern", "verdict", "reason", "after_sec"), [
    # « allô ? » then waiting
    ([(0.5, False), (0.5, True), (3.0, False)], "human", "short_greeting", 1.8),
    # « oui… allô ? »: a pause shorter than human_silence_sec, then silence
    ([(0.3, False), (0.3, True), (0.5, False), (0.6, True), (2.0, False)], "human",
     "short_greeting", 2.5),
    # a long uninterrupted greeting
    ([(0.2, False), (4.0, True)], "machine", "long_greeting", 2.92),
    # a greeting in phrases (pauses of 0.4 s): too much speech in all
    ([(0.2, False)] + [(1.5, True), (0.4, False)] * 3, "machine", "talkative", 4.52),
    # nobody says anything: a person, at the end of the window
    ([(6.0, False)], "human", "timeout", 5.0),
    # a click of line noise is no greeting: still the window's end
    ([(0.06, True), (6.0, False)], "human", "timeout", 5.0),
])
def test_detector_table(pattern: list[tuple[float, bool]], verdict: str, reason: str,
                        after_sec: float) -> None:
    decision = feed(pattern)
    assert (decision.verdict, decision.reason) == (verdict, reason)
    assert decision.after_sec == pytest.approx(after_sec, abs=0.021)


def test_pauses_shorter_than_the_word_gap_keep_one_run() -> None:
    """Pauses of 0.08 s (under word_gap_sec) inside 3 s of speech: one long greeting."""
    decision = feed([(0.5, True), (0.08, False)] * 6)
    assert (decision.verdict, decision.reason) == (AmdVerdict.MACHINE, AmdReason.LONG_GREETING)


def test_thresholds_are_parameters() -> None:
    quick = AmdParams(human_silence_sec=0.4, max_greeting_sec=1.0)
    assert feed([(0.5, True), (1.0, False)], quick).after_sec == pytest.approx(0.9, abs=0.021)
    assert feed([(1.5, True)], quick).reason == AmdReason.LONG_GREETING


def test_decided_once_and_expire_without_audio() -> None:
    detector = AnsweringMachineDetector()
    assert detector.expire() == AmdDecision(AmdVerdict.HUMAN, AmdReason.NO_AUDIO, 0.0, 0.0)
    assert detector.process(CHUNK_SEC, True) == AmdVerdict.HUMAN  # stays decided
    assert detector.elapsed_sec == 0.0


def test_figures_count_people_taken_for_machines() -> None:
    person, machine = (Sample("p", "espeak-human", False, b""),
                       Sample("m", "espeak-machine", True, b""))
    said = [AmdDecision(AmdVerdict.MACHINE, AmdReason.LONG_GREETING, 3.0, 2.8),
            AmdDecision(AmdVerdict.MACHINE, AmdReason.LONG_GREETING, 3.2, 2.8)]
    result = figures([person, machine], said)
    assert (result["accuracy"], result["false_machine_rate"], result["missed_machine_rate"],
            result["decision_ms_median"], result["wrong"]) == (0.5, 1.0, 0.0, 3100, ["p"])


@pytest.mark.skipif(shutil.which("espeak-ng") is None or not Path("/usr/share/mbrola/fr1").exists(),
                    reason="espeak-ng + mbrola-fr1 missing")
def test_greetings_through_the_call_vad() -> None:
    """« Allô oui ? » is a person, a voicemail greeting a machine: G.711, Silero, detector."""
    from pipecat.audio.vad.vad_analyzer import VADParams

    from callbot.speech.silero_vad import load_silero_session

    rng = random.Random(1)
    person = silence(0.4, 8000) + _espeak("Allô oui ?", 160, 50) + silence(3.0, 8000)
    machine = _espeak("Bonjour, vous êtes bien sur le répondeur de Marie Dupont, laissez-moi "
                      "un message après le bip.", 160, 50)
    session, params, vad = load_silero_session(), AmdParams(), VADParams(stop_secs=0.25)
    decided = [asyncio.run(classify(Sample(name, name, name == "machine", _on_the_line(pcm, rng)),
                                    session, params, vad))
               for name, pcm in (("person", person), ("machine", machine))]
    assert [d.verdict for d in decided] == [AmdVerdict.HUMAN, AmdVerdict.MACHINE]
    assert decided[0].after_sec < 2.5 and decided[1].after_sec < 3.5
