"""An in-memory ``Dialer`` and a virtual clock — for tests ONLY.

Nothing here places a call: ``FakeDialer`` answers from a script (per number and try: busy, no
answer, a machine, a person who says "oui", keys 2 or hangs up at the third sentence) and
records what the runner did — every dial with its virtual time, the calls at once, what was
said on each line — so a test can check that nobody was called outside the window, twice at
once or after a final status. ``VirtualClock`` lets a campaign of days run in a second: time
jumps to the runner's next wake-up when no call is in progress. Production uses a real back
end (``callbot.sip.outbound.OutboundDialer``) and ``callbot.campaigns.runner.WallClock``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callbot.campaigns.dialer import DialOutcome, DialResult, Heard, HeardKind, Verdict

#: A scripted reply: words, "key N" for a key press, "" for silence, "hangup" to hang up.
KEY_PREFIX = "key "
HANGUP = "hangup"


@dataclass(frozen=True)
class Answer:
    """What one try to a number does."""

    outcome: DialOutcome = DialOutcome.ANSWERED
    machine: bool = False
    replies: tuple[str, ...] = ()  # in turn; silence once they run out
    drop_at_say: int | None = None  # the person hangs up instead of hearing this sentence (1 = first)
    transfer_ok: bool = True
    placed: bool = True
    blocks: str = ""  # "dial": hangs ringing, "call": hangs once answered (a run cut mid-call)


@dataclass
class FakeLine:
    """An answered fake call."""

    dialer: FakeDialer
    number: str
    answer: Answer
    said: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    ended: str = ""  # why it ended: "hangup", "dropped", "transferred"

    async def machine(self) -> Verdict:
        return Verdict(self.answer.machine)

    async def wait_quiet(self, quiet_sec: float = 1.0, timeout_sec: float = 30.0) -> bool:
        return not self.ended

    async def say(self, text: str) -> bool:
        await asyncio.sleep(0)
        if self.ended:
            return False
        if self.answer.drop_at_say == len(self.said) + 1:
            self._end("dropped")
            return False
        self.said.append(text)
        return True

    async def listen(self, timeout_sec: float) -> Heard:
        await asyncio.sleep(self.dialer.call_sec)
        if self.answer.blocks == "call":
            await self.dialer.hang()
        if self.ended:
            return Heard(HeardKind.HANGUP)
        reply = self.replies.pop(0) if self.replies else ""
        if reply == HANGUP:
            self._end("dropped")
            return Heard(HeardKind.HANGUP)
        if reply.startswith(KEY_PREFIX):
            return Heard(HeardKind.DTMF, reply.removeprefix(KEY_PREFIX))
        return Heard(HeardKind.SPEECH, reply) if reply else Heard(HeardKind.SILENCE)

    async def transfer(self, reason: str) -> str | None:
        if not self.answer.transfer_ok:
            return "the agent on duty did not answer"
        self._end("transferred")
        return None

    async def hangup(self, reason: str = "done") -> None:
        self._end("hangup")

    def _end(self, why: str) -> None:
        if not self.ended:
            self.ended = why
            self.dialer.hung_up(self.number)


class FakeDialer:
    """Answers from ``script(number, n)``, ``n`` counting every ``dial`` of that number (a
    call that found no line too); see the module's docstring. Tests only."""

    def __init__(self, script: Callable[[str, int], Answer], now: Callable[[], datetime],
                 call_sec: float = 0.0) -> None:
        self.script, self.now, self.call_sec = script, now, call_sec
        self.dials: list[tuple[datetime, str]] = []
        self.lines: list[FakeLine] = []
        self.in_call: set[str] = set()
        self.overlaps: list[str] = []  # numbers dialed while already in a call
        self.max_active = 0
        self.hanging = 0  # calls stuck in a "blocks" answer
        self.asked: dict[str, int] = {}  # dial() calls per number, placed or not
        self._changed = asyncio.Event()

    def tries(self, number: str) -> int:
        """Calls placed to ``number`` (a call that found no line is none)."""
        return sum(1 for _, n in self.dials if n == number)

    async def dial(self, number: str, caller_id: str | None = None) -> DialResult:
        self.asked[number] = self.asked.get(number, 0) + 1
        answer = self.script(number, self.asked[number])
        if not answer.placed:
            return DialResult(DialOutcome.FAILED, "no free line", placed=False)
        self.dials.append((self.now(), number))
        if number in self.in_call:
            self.overlaps.append(number)
        self.in_call.add(number)
        self.max_active = max(self.max_active, len(self.in_call))
        await asyncio.sleep(self.call_sec)
        if answer.blocks == "dial":
            await self.hang()
        if answer.outcome != DialOutcome.ANSWERED:
            self.hung_up(number)
            return DialResult(answer.outcome, str(answer.outcome))
        line = FakeLine(self, number, answer, replies=list(answer.replies))
        self.lines.append(line)
        return DialResult(DialOutcome.ANSWERED, "OK", line)

    def hung_up(self, number: str) -> None:
        self.in_call.discard(number)
        self._changed.set()

    async def hang(self) -> None:
        """Never return (until cancelled): a call in progress when the process stops."""
        self.hanging += 1
        self._changed.set()
        await asyncio.Event().wait()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds, looked at after every call's change."""
        while not condition():
            self._changed.clear()
            await self._changed.wait()


class VirtualClock:
    """Time that stands still while calls are in progress and jumps to the next wake-up when
    none is. Tests only."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    async def wait(self, calls: set[asyncio.Task[None]], until: datetime | None,
                   poll_sec: float) -> None:
        if calls:
            await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
            return
        await asyncio.sleep(0)
        self.current = max(self.current, until or self.current + timedelta(seconds=poll_sec))
