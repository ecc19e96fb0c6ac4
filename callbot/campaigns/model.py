"""The words every part of a campaign shares: kinds, contact statuses, attempt results, plan.

A contact is ``pending`` (never tried, or waiting for its next try), ``dialing`` (a call is
being placed: written before the INVITE leaves, so a restart knows), ``in_call`` (someone or
something answered), or in exactly one final status. Each attempt ends with one ``Result``;
``FINAL_OF`` says which status it leaves when no try is left, ``RETRIED`` which results
deserve another try.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum


class CampaignKind(StrEnum):
    HEATWAVE = "heatwave"  # "tout va bien pour vous ?": a no, silence or distress → a person
    REMINDER = "reminder"  # a message, repeated on request; no question
    QUESTION = "question"  # a message and one yes/no question of the town's choosing


class ContactStatus(StrEnum):
    PENDING = "pending"
    DIALING = "dialing"
    IN_CALL = "in_call"
    # final
    FINE = "fine"  # heatwave: all is well
    YES = "yes"  # question: answered yes
    NO = "no"  # question: answered no
    DELIVERED = "delivered"  # reminder: heard to the end
    TRANSFERRED = "transferred"  # needed help: put through to the agent on duty
    CALLBACK = "callback"  # needed help, nobody free: a callback task for the agents
    OPTED_OUT = "opted_out"  # "ne plus m'appeler": on the do-not-call list now
    HUNG_UP = "hung_up"  # answered, hung up before the end
    NO_REPLY = "no_reply"  # question: neither yes nor no after two prompts
    VOICEMAIL = "voicemail"  # only answering machines, tries used up
    NO_ANSWER = "no_answer"  # busy or no answer, tries used up
    FAILED = "failed"  # the line or the number failed, tries used up
    EXCLUDED = "excluded"  # on the do-not-call list: never called
    INTERRUPTED = "interrupted"  # answered when the process stopped: not called again


ACTIVE = frozenset({ContactStatus.DIALING, ContactStatus.IN_CALL})
FINAL = frozenset(ContactStatus) - ACTIVE - {ContactStatus.PENDING}
#: Final statuses that mean the person may need someone: the agents' follow-up list.
NEEDS_HELP = frozenset({ContactStatus.TRANSFERRED, ContactStatus.CALLBACK})


class Result(StrEnum):
    """How one attempt ended."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"  # a network or line failure: worth another try
    UNREACHABLE = "unreachable"  # the number does not exist (404, 484…): no point retrying
    VOICEMAIL = "voicemail"  # an answering machine (the short message left, or not)
    NOT_PLACED = "not_placed"  # never dialed: the person was in another campaign's call
    INTERRUPTED = "interrupted"  # the process stopped during the call (seen at restart)
    # the conversation's outcomes: the same names as the final statuses they give
    FINE = "fine"
    YES = "yes"
    NO = "no"
    DELIVERED = "delivered"
    TRANSFERRED = "transferred"
    CALLBACK = "callback"
    OPTED_OUT = "opted_out"
    HUNG_UP = "hung_up"
    NO_REPLY = "no_reply"


RETRIED = frozenset({Result.BUSY, Result.NO_ANSWER, Result.FAILED, Result.VOICEMAIL})
#: The final status a result leaves (for retried results: once no try is left).
FINAL_OF: dict[Result, ContactStatus] = {
    Result.BUSY: ContactStatus.NO_ANSWER,
    Result.NO_ANSWER: ContactStatus.NO_ANSWER,
    Result.FAILED: ContactStatus.FAILED,
    Result.UNREACHABLE: ContactStatus.FAILED,
    Result.VOICEMAIL: ContactStatus.VOICEMAIL,
    Result.INTERRUPTED: ContactStatus.INTERRUPTED,
    **{r: ContactStatus(r.value) for r in (
        Result.FINE, Result.YES, Result.NO, Result.DELIVERED, Result.TRANSFERRED, Result.CALLBACK,
        Result.OPTED_OUT, Result.HUNG_UP, Result.NO_REPLY)},
}


@dataclass(frozen=True)
class CallingWindow:
    """When a call may start: local time of the town, Monday–Saturday, not on public holidays
    (an emergency campaign calls on Sundays and holidays too, within the same hours)."""

    start: time = time(9, 0)
    end: time = time(19, 0)
    weekdays: frozenset[int] = frozenset(range(6))  # Monday = 0 … Saturday = 5


@dataclass(frozen=True)
class CampaignPlan:
    """How one campaign calls: its window, its tries, its pace and its share of the lines."""

    window: CallingWindow = CallingWindow()
    emergency: bool = False
    max_attempts: int = 3
    retry_after_sec: float = 3600.0
    max_lines: int = 10  # this campaign's calls at once
    pacing_sec: float = 0.0  # at least this long between two calls placed
    #: A contact answered when the process stopped gets a callback task (heatwave checks):
    #: we cannot know what they said, and they must not be called twice.
    callback_when_interrupted: bool = True


@dataclass(frozen=True)
class Lines:
    """The town's lines right now: inbound callers keep ``inbound_reserve`` of them free."""

    total: int = 10
    inbound_reserve: int = 2
    inbound_active: int = 0
    outbound_elsewhere: int = 0  # other campaigns' calls in progress

    def free_for_outbound(self, own_active: int) -> int:
        busy = self.inbound_active + self.outbound_elsewhere + own_active
        return max(0, self.total - self.inbound_reserve - busy)
