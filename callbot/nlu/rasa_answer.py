"""Rasa's ``/model/parse`` answer, checked before the policy sees it.

A Rasa server is ours, but a wrong version, a proxy's error page or a broken model can
answer anything. Whatever the body, the result is a ``ParseResult`` with a named intent
and finite confidences in 0–1, or a ``RasaAnswerError`` saying what was wrong (the turn
then falls back to the embedded NLU).
"""

from __future__ import annotations

import math
from typing import Any

from callbot.json_input import JsonInputError, load_json
from callbot.nlu.intents import NLU_FALLBACK
from callbot.nlu.result import ParseResult

#: A parse answer is a few kB; anything much larger is not one.
MAX_ANSWER_BYTES = 1_000_000


class RasaAnswerError(ValueError):
    """A Rasa answer that is not a usable parse result."""


def _confidence(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        raise RasaAnswerError(f"{where} confidence must be a number in 0–1, got {str(value)[:40]}")
    return float(value)


def _ranked(item: object) -> dict[str, Any] | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise RasaAnswerError("each intent_ranking entry needs a name")
    if item["name"] == NLU_FALLBACK:
        # Rasa's FallbackClassifier puts nlu_fallback first in the ranking; the embedded NLU
        # ranks real intents only, and the policy picks clarification candidates from it.
        return None
    return {"name": item["name"], "confidence": _confidence(item.get("confidence"), "ranking")}


def _entity(item: object) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("entity"), str):
        raise RasaAnswerError('each entity needs an "entity" name')
    for key in ("start", "end"):
        if isinstance(item.get(key, 0), bool) or not isinstance(item.get(key, 0), int):
            raise RasaAnswerError(f"entity {key} must be an integer")
    return item


def _list(body: dict, key: str) -> list:
    value = body.get(key) or []
    if not isinstance(value, list):
        raise RasaAnswerError(f"{key} must be a list")
    return value


def check_answer(body: object) -> ParseResult:
    """A decoded answer → ``ParseResult``; ``RasaAnswerError`` if it is not one."""
    if not isinstance(body, dict):
        raise RasaAnswerError("the answer is not a JSON object")
    intent = body.get("intent")
    if not isinstance(intent, dict) or not isinstance(intent.get("name"), str) \
            or not intent["name"]:
        raise RasaAnswerError(f"no intent in Rasa's answer: {str(body)[:200]}")
    ranking = [r for r in map(_ranked, _list(body, "intent_ranking")) if r]
    return ParseResult.from_dict({
        "text": body.get("text", ""),
        "intent": {"name": intent["name"],
                   "confidence": _confidence(intent.get("confidence"), "intent")},
        "entities": [_entity(e) for e in _list(body, "entities")],
        "intent_ranking": ranking,
    })


def parse_answer(raw: bytes) -> ParseResult:
    """The body's bytes → ``ParseResult``; ``RasaAnswerError`` for anything else."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise RasaAnswerError(f"answer larger than {MAX_ANSWER_BYTES} bytes")
    try:
        return check_answer(load_json(raw))
    except JsonInputError as exc:
        raise RasaAnswerError(f"the answer is not JSON: {exc}") from exc
