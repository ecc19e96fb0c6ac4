"""Answering-machine detection (AMD) from the first seconds of an answered outbound call.

A person picks up and says something short (« allô ? », « oui allô », « allô oui bonjour »),
then waits for the caller; a recorded greeting talks on (« Bonjour, vous êtes bien sur le
répondeur de… laissez un message après le bip »). So: one run of speech longer than
``max_greeting_sec``, or more than ``max_total_speech_sec`` of speech in all, is a machine; a
short greeting followed by ``human_silence_sec`` of silence is a person; still undecided after
``window_sec`` it is a person too (taking a person for a machine is the worse error: they would
hear a voicemail message, or be hung up on).

Clock-free, as Home Assistant's ``VoiceCommandSegmenter``: ``process(chunk_sec, is_speech)`` is
fed the duration of each audio chunk and whether the VAD heard speech in it; time is audio time.
Measured by ``callbot bench amd`` (``callbot/amd_bench.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AmdVerdict(StrEnum):
    UNDECIDED = "undecided"
    HUMAN = "human"
    MACHINE = "machine"


class AmdReason(StrEnum):
    LONG_GREETING = "long_greeting"  # one run of speech longer than max_greeting_sec
    TALKATIVE = "talkative"  # too much speech in all
    SHORT_GREETING = "short_greeting"  # a few words, then silence: someone is waiting
    TIMEOUT = "timeout"  # still unsure at the end of the window: a person, by default
    NO_AUDIO = "no_audio"  # the call's audio never came (``expire``)


@dataclass(frozen=True)
class AmdParams:
    """Thresholds in seconds of audio; defaults chosen with ``callbot bench amd`` for few people
    taken for machines (docs/telephony.md, "Outbound calls")."""

    max_greeting_sec: float = 2.7
    max_total_speech_sec: float = 3.5
    human_silence_sec: float = 0.8
    #: pauses shorter than this inside a run of speech do not end the run (on top of the VAD's
    #: own ``stop_secs``, which already bridges the pauses between words)
    word_gap_sec: float = 0.1
    #: speech shorter than this in all is a click or line noise, not a greeting
    min_speech_sec: float = 0.12
    window_sec: float = 5.0


@dataclass(frozen=True)
class AmdDecision:
    verdict: AmdVerdict
    reason: AmdReason
    after_sec: float  # audio time from the answer to the decision
    speech_sec: float  # speech heard until then

    @property
    def machine(self) -> bool:
        return self.verdict == AmdVerdict.MACHINE


class AnsweringMachineDetector:
    """Feed ``process`` until it returns a verdict other than UNDECIDED; then ``decision``."""

    def __init__(self, params: AmdParams | None = None) -> None:
        self.params = params or AmdParams()
        self.elapsed_sec = 0.0
        self.speech_sec = 0.0
        self._run_sec = 0.0  # the current run of speech, pauses under word_gap_sec included
        self._silence_sec = 0.0  # silence since the last speech
        self.decision: AmdDecision | None = None

    @property
    def verdict(self) -> AmdVerdict:
        return self.decision.verdict if self.decision else AmdVerdict.UNDECIDED

    def process(self, chunk_sec: float, is_speech: bool) -> AmdVerdict:
        """One chunk of ``chunk_sec`` seconds of audio; returns the verdict so far."""
        if self.decision is not None:
            return self.decision.verdict
        p = self.params
        self.elapsed_sec += chunk_sec
        if is_speech:
            if self._silence_sec >= p.word_gap_sec:
                self._run_sec = 0.0  # a new run after a real pause
            self._run_sec += self._silence_sec + chunk_sec if self._run_sec else chunk_sec
            self._silence_sec = 0.0
            self.speech_sec += chunk_sec
            if self._run_sec > p.max_greeting_sec:
                return self._decide(AmdVerdict.MACHINE, AmdReason.LONG_GREETING)
            if self.speech_sec > p.max_total_speech_sec:
                return self._decide(AmdVerdict.MACHINE, AmdReason.TALKATIVE)
        else:
            self._silence_sec += chunk_sec
            if self.speech_sec >= p.min_speech_sec and self._silence_sec >= p.human_silence_sec:
                return self._decide(AmdVerdict.HUMAN, AmdReason.SHORT_GREETING)
        if self.elapsed_sec >= p.window_sec:
            return self._decide(AmdVerdict.HUMAN, AmdReason.TIMEOUT)
        return AmdVerdict.UNDECIDED

    def expire(self) -> AmdDecision:
        """No (more) audio came in time: what was heard decides, a person if in doubt."""
        if self.decision is None:
            self._decide(AmdVerdict.HUMAN, AmdReason.NO_AUDIO if self.elapsed_sec == 0
                         else AmdReason.TIMEOUT)
        assert self.decision is not None
        return self.decision

    def _decide(self, verdict: AmdVerdict, reason: AmdReason) -> AmdVerdict:
        self.decision = AmdDecision(verdict, reason, round(self.elapsed_sec, 3),
                                    round(self.speech_sec, 3))
        return verdict
