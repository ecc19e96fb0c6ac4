"""Call events turned into storable records: plain JSON-able dicts, already made private.

The same record goes to the database or, when it is unreachable, to the spool file,
so redaction and pseudonymisation happen here, before either.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from callbot.conversation.call_events import (
    CallClosed,
    CallEvent,
    CallOpened,
    LineEvent,
    TurnTaken,
)
from callbot.privacy import pseudonymise, redact, redact_said_numbers

Record = dict[str, Any]


def _total_latency(latencies: dict[str, float]) -> float | None:
    if not latencies:
        return None
    return latencies.get("total", sum(latencies.values()))


def to_record(event: CallEvent, seq: int, key: bytes, node: str | None = None) -> Record:
    """One record per event; ``seq`` orders a call's records and makes replays idempotent.

    ``node`` (``host:pid``) says which process took the call, for closing it if that dies.
    """
    base: Record = {"call_id": event.call_id, "seq": seq, "at": event.at.isoformat()}
    if isinstance(event, CallOpened):
        return {**base, "type": "call_opened", "channel": event.channel,
                "caller": pseudonymise(event.caller_id, key), "node": node}
    if isinstance(event, TurnTaken):
        why = event.turn.to_json()
        return {**base, "type": "turn", "caller_text": redact(why["caller"] or ""),
                "intent": why["intent"], "confidence": why["confidence"], "action": why["action"],
                "kb_entry": why["kb_entry"], "kb_revision": why["kb_revision"],
                "bot_text": redact_said_numbers(why["bot"] or ""),
                "transfer_reason": why["transfer_reason"],
                "latency_ms": _total_latency(event.latencies_ms),
                "latencies": json.dumps(event.latencies_ms) if event.latencies_ms else None}
    if isinstance(event, LineEvent):
        return {**base, "type": "line_event", "kind": str(event.kind),
                "detail": redact(event.detail)}
    if isinstance(event, CallClosed):
        return {**base, "type": "call_closed", "outcome": str(event.outcome),
                "transfer_reason": event.transfer_reason, "detail": redact(event.detail)[:200]}
    raise TypeError(f"not a call event: {type(event).__name__}")


def parse_time(value: str) -> datetime:
    """Record times are ISO strings; the database keeps naive local times of the town."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=None) if moment.tzinfo else moment
