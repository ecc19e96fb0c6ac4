"""Late audio frames as the receiver hears them: a clock-free model of a phone's playout.

The sender's own view ("I sent it after its slot") misses what matters: whether the caller's
side ran out of audio. Here the receiver plays each talk-spurt from its first frame's arrival
plus a small jitter buffer, frame after frame; a frame that arrives after the audio before it
has finished playing is late (the caller heard a hole). A pause longer than
``spurt_gap_sec`` is the bot falling silent (between turns), not lateness: the next frame
starts a new talk-spurt.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Audio a receiver holds before it starts playing a talk-spurt (a phone's smallest buffer).
RECEIVER_JITTER_SEC = 0.02
#: Longer than this without audio, the bot was silent: the next frame starts afresh.
TALK_SPURT_GAP_SEC = 0.25


@dataclass
class Playout:
    """Feed ``arrive(now, duration_sec)`` for each audio frame received, in order."""

    jitter_sec: float = RECEIVER_JITTER_SEC
    spurt_gap_sec: float = TALK_SPURT_GAP_SEC
    frames: int = 0
    late: int = 0
    spurts: int = 0
    _play_end: float | None = None  # when the audio received so far has finished playing
    last_start: float | None = None  # when the last frame given to ``arrive`` starts playing

    def arrive(self, now: float, duration_sec: float) -> bool:
        """Account for one frame; True when it came too late to be played without a hole."""
        self.frames += 1
        late = False
        if self._play_end is None or now - self._play_end > self.spurt_gap_sec:
            self.spurts += 1
            start = now + self.jitter_sec
        elif now > self._play_end:
            late = True
            self.late += 1
            start = now + self.jitter_sec  # the receiver buffers again before playing on
        else:
            start = self._play_end
        self.last_start = start
        self._play_end = start + duration_sec
        return late

    def clear(self) -> None:
        """The sender took back what was buffered (a barge-in): the next frame starts afresh."""
        self._play_end = None

    @property
    def late_ratio(self) -> float | None:
        return self.late / self.frames if self.frames else None
