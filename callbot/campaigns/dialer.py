"""What a campaign needs from a telephony back end: the ``Dialer`` protocol and its results.

The runner places calls only through these protocols, so the SIP endpoint (sippy UAC with
answering-machine detection, ``callbot.sip.outbound.OutboundDialer``), an Asterisk back end or
the tests' fake plug in unchanged. They are structural (``typing.Protocol``): a back end
matches them by shape and never imports this package, and the strings compare with its own
``StrEnum`` values (``DialOutcome``, ``HeardKind``).

- ``Dialer.dial(number, caller_id)`` rings ``number`` (E.164) showing ``caller_id`` and returns
  once the call is answered, busy, unanswered, rejected or failed; ``placed`` is False when no
  INVITE left at all (no free line): that is no try.
- An answered result holds the ``CallLine``: ask ``machine()`` first (the verdict on the first
  seconds of audio), ``wait_quiet()`` after a machine's greeting, then ``say``, ``listen``,
  ``transfer`` to the agent on duty (the back end knows where), ``hangup``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class DialOutcome(StrEnum):
    """``DialReport.outcome`` values (``callbot.sip.dial_result.DialOutcome`` has the same)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"  # the number does not exist or refuses (403, 404, 484, 603…)
    FAILED = "failed"  # the trunk or the line failed


class HeardKind(StrEnum):
    """``HeardReport.kind`` values (``callbot.sip.outbound_audio.HeardKind`` has the same)."""

    SPEECH = "speech"
    DTMF = "dtmf"
    SILENCE = "silence"
    HANGUP = "hangup"


class HeardReport(Protocol):
    @property
    def kind(self) -> str: ...  # a HeardKind value

    @property
    def text(self) -> str: ...  # the transcript, or the key pressed


class MachineVerdict(Protocol):
    @property
    def machine(self) -> bool: ...  # an answering machine (else a person, or undecided)


class CallLine(Protocol):
    """An answered outbound call, driven by the campaign's dialogue."""

    async def machine(self) -> MachineVerdict:
        """The answering-machine verdict on the first seconds after the answer."""
        ...

    async def wait_quiet(self, quiet_sec: float = 1.0, timeout_sec: float = 30.0) -> bool:
        """Until the other end is silent ``quiet_sec`` (a greeting's end, its beep)."""
        ...

    async def say(self, text: str) -> bool:
        """Speak ``text``, returning once it was played; False if the other end is gone."""
        ...

    async def listen(self, timeout_sec: float) -> HeardReport:
        """What is said or keyed next; ``silence`` after ``timeout_sec``; ``hangup`` once over."""
        ...

    async def transfer(self, reason: str) -> str | None:
        """Put the person through to the agent on duty: None once done, else why not."""
        ...

    async def hangup(self, reason: str = "done") -> None:
        """Hang up once the words queued are played."""
        ...


class DialReport(Protocol):
    @property
    def outcome(self) -> str: ...  # a DialOutcome value

    @property
    def reason(self) -> str: ...  # the SIP reason phrase, or the back end's own words

    @property
    def call(self) -> CallLine | None: ...  # set when answered

    @property
    def placed(self) -> bool: ...  # False: no call left at all (no free line): no try


class Dialer(Protocol):
    async def dial(self, number: str, caller_id: str | None = None) -> DialReport:
        """Ring ``number`` (E.164) as ``caller_id``; return once answered or given up."""
        ...


@dataclass(frozen=True)
class DialResult:
    """A plain ``DialReport``, for back ends without a type of their own."""

    outcome: DialOutcome
    reason: str = ""
    call: CallLine | None = None
    placed: bool = True


@dataclass(frozen=True)
class Heard:
    """A plain ``HeardReport``."""

    kind: HeardKind
    text: str = ""


@dataclass(frozen=True)
class Verdict:
    """A plain ``MachineVerdict``."""

    machine: bool
