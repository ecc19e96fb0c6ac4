"""Turn latency as a person on the line hears it, computed from a call's timeline (clock-free).

A scripted caller (``callbot.call_client``) records what went over the wire and when; this
module turns that into figures, after the call, with no clock of its own:

- **Heard**, both ways, means played by a receiver that follows ``callbot.playout.Playout``: a
  talk-spurt starts playing ``RECEIVER_JITTER_SEC`` after its first frame arrives, the next
  frames play back to back, a frame that arrives after the audio before it ran out starts
  again after the jitter buffer. The bot sends its audio ahead of real time
  (``callbot.bridge.transport.Pacing``, 0.5 s on the WebSocket bridge): a frame received early
  is heard when the audio before it has played, not when it arrives. A ``clear`` (barge-in)
  drops what was buffered: audio cut by it is never heard.
- **End of caller speech**: when the end of the clip's last sample louder than
  ``SPEECH_LEVEL`` would be heard at the bot's end (the clip's frames, as sent in real time,
  through the same playout model): the silence sent after it does not count, and within a
  frame the sample's own offset counts (not the frame's send time).
- **First bot audio**: when the first sample louder than ``SPEECH_LEVEL`` is heard at the
  caller's end after that: leading silence in the synthesised audio is dead air, so it counts.
- **Turn latency** is the difference. The jitter buffer is in both ends of it, so it cancels out.
  A turn where the bot's audio is still playing at the end of the caller's speech (it answered
  a pause inside the sentence) has no latency: it is counted in ``overlapped`` instead.

The split of a turn (``TurnTiming.split_ms``) adds up to its latency exactly: end-of-turn
detection (speech end → the server's VAD stop, which the turn report gives as
``after_vad_stop_ms``), recognition (VAD stop → final transcript, the server's
``stt_after_speech``), NLU and policy (the rest until the turn report arrived), first TTS
chunk (the report → the first bot frame after it, which the bot sends as soon as it exists),
playout (that frame's arrival → its first loud sample heard: jitter buffer and leading
silence). It is given only when the first audio heard is the answer, not "un instant".
"""

from __future__ import annotations

import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from callbot.playout import Playout

#: Peak sample level above which a sample counts as speech (16-bit PCM).
SPEECH_LEVEL = 600


@dataclass(frozen=True)
class Chunk:
    """One audio frame on the wire: when it was sent (caller) or arrived (bot), how many samples,
    and where its first and last loud samples are (``None`` for a silent frame)."""

    at: float
    samples: int
    loud_first: int | None = None
    loud_last: int | None = None

    @classmethod
    def of(cls, at: float, pcm: bytes) -> Chunk:
        samples = array.array("h", pcm[: len(pcm) // 2 * 2])
        loud = [i for i, x in enumerate(samples) if abs(x) > SPEECH_LEVEL]
        return cls(at, len(samples), loud[0] if loud else None, loud[-1] if loud else None)


@dataclass
class CallerTurn:
    """What the caller did in one step: a clip (its frames, silence after it included) or a key."""

    chunks: list[Chunk] = field(default_factory=list)
    key_at: float | None = None  # a DTMF key press, sent at that time


@dataclass
class Timeline:
    """One call as the wire saw it, from the caller's side; times are one monotonic clock."""

    rate: int
    started_at: float  # the call's start message was sent
    caller: list[CallerTurn] = field(default_factory=list)
    bot: list[Chunk] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)  # barge-in: buffered bot audio dropped
    reports: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # turn reports


@dataclass(frozen=True)
class Heard:
    """When a chunk is heard: from ``start`` to ``end`` (earlier than its length if cut)."""

    chunk: Chunk
    start: float
    end: float
    rate: int

    @property
    def first_loud(self) -> float | None:
        if self.chunk.loud_first is None:
            return None
        at = self.start + self.chunk.loud_first / self.rate
        return at if at < self.end else None

    @property
    def loud_end(self) -> float | None:
        """The end of the last loud sample heard of this chunk."""
        if self.first_loud is None or self.chunk.loud_last is None:
            return None
        return min(self.end, self.start + (self.chunk.loud_last + 1) / self.rate)


def hear(chunks: Iterable[Chunk], rate: int, clears: Iterable[float] = ()) -> list[Heard]:
    """Each chunk as a receiver plays it (``Playout``), cut short by any ``clear`` after it."""
    events = sorted([(c.at, 1, c) for c in chunks] + [(t, 0, None) for t in clears],
                    key=lambda e: (e[0], e[1]))
    playout = Playout()
    heard: list[Heard] = []
    for at, _, chunk in events:
        if chunk is None:  # a clear: what is still to play is dropped
            heard = [h if h.end <= at else Heard(h.chunk, h.start, max(h.start, at), rate)
                     for h in heard]
            playout.clear()
            continue
        duration = chunk.samples / rate
        playout.arrive(at, duration)
        start = playout.last_start if playout.last_start is not None else at
        heard.append(Heard(chunk, start, start + duration, rate))
    return heard


@dataclass(frozen=True)
class TurnTiming:
    """One caller turn, heard from both ends (seconds on the timeline's clock)."""

    speech_end: float
    first_audio: float | None  # the first loud bot sample heard after the speech end
    overlapped: bool  # the bot's audio was playing when the caller stopped
    cut_early: bool  # the bot answered before the caller had finished (a pause ended the turn)
    answer_at: float | None = None  # arrival of the turn report that answers the speech end
    before_answer: bool = False  # what was heard first came before the answer ("un instant")
    split_ms: dict[str, float] | None = None

    @property
    def latency_ms(self) -> float | None:
        if self.overlapped or self.first_audio is None:
            return None
        return round((self.first_audio - self.speech_end) * 1000, 1)


def _caller_spans(turns: list[CallerTurn], rate: int) -> list[tuple[float, float] | None]:
    """(first loud sample heard, end of the last one) per turn; a key press is an instant."""
    heard = hear([c for t in turns for c in t.chunks], rate)
    spans: list[tuple[float, float] | None] = []
    index = 0
    for turn in turns:
        own, index = heard[index:index + len(turn.chunks)], index + len(turn.chunks)
        loud = [(h.first_loud, h.loud_end) for h in own if h.first_loud is not None]
        if turn.key_at is not None:
            spans.append((turn.key_at, turn.key_at))
        elif loud:
            spans.append((loud[0][0], loud[-1][1]))  # type: ignore[arg-type]
        else:
            spans.append(None)
    return spans


def _vad_stop(report_at: float, report: dict[str, Any]) -> float:
    """When the server's VAD ended the turn this report answers (its arrival if not said)."""
    return report_at - (report.get("after_vad_stop_ms") or 0.0) / 1000


def turn_timings(timeline: Timeline) -> list[TurnTiming]:
    """One ``TurnTiming`` per caller turn that had speech (or a key) in it, in order.

    The report that answers a turn is the last one about caller speech that arrived before
    the first bot audio heard after the speech end (the audio it made the bot say), or else the
    first one after it (then what was heard first came before the answer: ``before_answer``).
    A report whose VAD stop came before the speech end answered part of the sentence
    (``cut_early``): on a loaded machine it can arrive after the caller has finished.
    """
    bot = hear(timeline.bot, timeline.rate, timeline.clears)
    spans = _caller_spans(timeline.caller, timeline.rate)
    starts = [s[0] for s in spans if s is not None]
    timings = []
    for number, span in enumerate(s for s in spans if s is not None):
        began, speech_end = span
        until = starts[number + 1] if number + 1 < len(starts) else float("inf")
        overlapped = any(h.start <= speech_end < h.end for h in bot)
        first = min((h for h in bot if h.first_loud is not None
                     and speech_end <= h.first_loud < until),
                    key=lambda h: h.first_loud or 0.0, default=None)
        reports = [(at, r) for at, r in timeline.reports if r.get("caller") and began <= at < until]
        cut_early = any(_vad_stop(at, r) < speech_end for at, r in reports)
        heard_after = first.chunk.at if first is not None else until
        prior = [(at, r) for at, r in reports if at <= heard_after]
        later = [(at, r) for at, r in reports if at > heard_after]
        answer = prior[-1] if prior else later[0] if later else None
        before = first is not None and not prior and bool(later)  # "un instant" came first
        split = None
        if first is not None and answer is not None and not overlapped and not before \
                and _vad_stop(*answer) >= speech_end:
            split = _split(speech_end, answer, first, timeline.bot)
        timings.append(TurnTiming(speech_end, first.first_loud if first else None, overlapped,
                                  cut_early, answer[0] if answer else None, before, split))
    return timings


def _split(speech_end: float, answer: tuple[float, dict[str, Any]], first: Heard,
           bot: list[Chunk]) -> dict[str, float] | None:
    """Where the time of one turn went; the parts add up to its latency."""
    report_at, report = answer
    if report.get("after_vad_stop_ms") is None:
        return None
    vad_stop = _vad_stop(report_at, report)
    recognition = (report.get("latencies_ms") or {}).get("stt_after_speech", 0.0) / 1000
    first_chunk = min((c.at for c in bot if c.at >= report_at), default=first.chunk.at)
    parts = {"end_of_turn": vad_stop - speech_end, "recognition": recognition,
             "nlu_policy": report_at - vad_stop - recognition,
             "first_tts_chunk": first_chunk - report_at,
             "playout": first.first_loud - first_chunk}  # type: ignore[operator]
    return {k: round(v * 1000, 1) for k, v in parts.items()}


def greeting_ms(timeline: Timeline) -> float | None:
    """Call started → the first loud bot sample heard (the greeting's first word)."""
    loud = [h.first_loud for h in hear(timeline.bot, timeline.rate, timeline.clears)
            if h.first_loud is not None]
    return round((min(loud) - timeline.started_at) * 1000, 1) if loud else None
