"""Turn-taking rules for the phone, as a clock-free state machine (fed with seconds).

Barge-in: the caller's speech stops the bot only once it has lasted ``barge_in_min_sec``
("mhm", a cough or line noise are shorter). Silence: after the bot has finished speaking,
``silence_timeout_sec`` without speech is a silence event for the policy. Hold-on: when the
caller has finished and no answer has come ``hold_on_sec`` later (a slow recogniser, a
busy machine), the bot says it is working on it, then again every ``hold_on_repeat_sec``
up to ``hold_on_max`` times, so the line does not go dead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TurnTakingParams:
    barge_in_min_sec: float = 0.6
    silence_timeout_sec: float = 8.0
    hold_on_sec: float = 1.5
    hold_on_repeat_sec: float = 3.0
    hold_on_max: int = 4  # then the silence rules take over


@dataclass
class TurnTaking:
    params: TurnTakingParams
    bot_speaking: bool = False
    user_speech_started_at: float | None = None
    quiet_since: float | None = None  # bot done and caller silent since then
    interrupted: bool = False
    answer_awaited_since: float | None = None  # the caller finished; no answer since
    holds: int = 0  # hold-on prompts said while this answer is awaited

    def bot_started(self) -> None:
        self.bot_speaking, self.quiet_since, self.interrupted = True, None, False

    def bot_stopped(self, now: float) -> None:
        self.bot_speaking = False
        if self.user_speech_started_at is None:
            self.quiet_since = now

    def user_started(self, now: float) -> None:
        self.user_speech_started_at, self.quiet_since = now, None
        self.answered()

    def user_stopped(self, now: float) -> None:
        self.user_speech_started_at = None
        self.quiet_since = None if self.bot_speaking else now
        self.answer_awaited_since = None if self.bot_speaking else now

    def should_interrupt(self, now: float) -> bool:
        """True once per bot utterance, when real speech overlaps it long enough."""
        started = self.user_speech_started_at
        if not self.bot_speaking or self.interrupted or started is None:
            return False
        if now - started >= self.params.barge_in_min_sec:
            self.interrupted = True
            return True
        return False

    def answered(self) -> None:
        """The bot has something to say (or the caller speaks again): no more holding on."""
        self.answer_awaited_since, self.holds = None, 0

    def hold_on_due(self, now: float) -> bool:
        """True when the caller should hear the hold-on prompt (again) now."""
        since = self.answer_awaited_since
        if since is None or self.bot_speaking or self.holds >= self.params.hold_on_max:
            return False
        wait = self.params.hold_on_repeat_sec if self.holds else self.params.hold_on_sec
        if now - since < wait:
            return False
        self.answer_awaited_since, self.holds = now, self.holds + 1
        return True

    def silence_expired(self, now: float) -> bool:
        if self.quiet_since is not None and now - self.quiet_since >= self.params.silence_timeout_sec:
            self.quiet_since = now  # the next silence event needs another full timeout
            return True
        return False
