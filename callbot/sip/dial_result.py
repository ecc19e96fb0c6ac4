"""What became of one outbound call attempt: the outcomes and the SIP status → outcome table.

Pure (``callbot.sip.outbound.DialResult`` carries an outcome with its call). The campaign
scheduler retries on ``busy``, ``no_answer`` and ``failed`` (with
``placed = False`` nothing left: no line was free, it is no try), and not on ``rejected`` (the
number does not exist or refuses: 403, 404, 484, 603…).
"""

from __future__ import annotations

from enum import StrEnum


class DialOutcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    FAILED = "failed"


BUSY_STATUSES = frozenset({486, 600})
#: Nobody picked up: the callee's phone timed out (408, 480) or we cancelled it (487).
NO_ANSWER_STATUSES = frozenset({408, 480, 487})
#: What the number itself refuses, as against the trunk or us failing (401/407: credentials).
REJECTED_STATUSES = frozenset({403, 404, 410, 484, 485, 603, 604, 607})


def outcome_of(status: int, heard_back: bool = True) -> DialOutcome:
    """The outcome of a final status; a 408 with no response before it is the trunk not
    answering at all (sippy's own timeout), not the callee."""
    if 200 <= status < 300:
        return DialOutcome.ANSWERED
    if status in BUSY_STATUSES:
        return DialOutcome.BUSY
    if status in NO_ANSWER_STATUSES and (heard_back or status != 408):
        return DialOutcome.NO_ANSWER
    if status in REJECTED_STATUSES:
        return DialOutcome.REJECTED
    return DialOutcome.FAILED

