"""Every text the policy would say now to answer a knowledge-base topic: what is pre-rendered.

An answer depends on the service and the day the caller named and on the time (the hours of
today, "open now"): each topic is composed for no service and every service, for no day,
today, tomorrow and every weekday, then given the follow-up question the policy adds. Dates
said in other words ("le 3 décembre") and a slot whose value has changed by call time are
not here: those are synthesised during the call, as before.
"""

from __future__ import annotations

from datetime import datetime

from callbot.conversation.policy import answer_speech, details_speech
from callbot.kb.answers import Answer, compose_answer
from callbot.kb.model import WEEKDAYS_FR, KnowledgeBase

#: The ``day`` entity values the NLU gives (``callbot.kb.answers.resolve_day``), and none.
DAYS = (None, "aujourdhui", "demain", *WEEKDAYS_FR)


def spoken_answers(kb: KnowledgeBase, now: datetime) -> dict[str, list[str]]:
    """Topic id → the distinct texts the bot says for it at ``now`` (answer and details)."""
    answers: dict[str, list[str]] = {}
    for topic_id in kb.topics:
        texts: dict[str, None] = {}
        for service_id in (None, *kb.services):
            for day in DAYS:
                _add(texts, compose_answer(kb, topic_id, now, service_id, day))
        for entry in kb.topics[topic_id].entries:
            _add(texts, compose_answer(kb, topic_id, now, entry_id=entry.id))
        answers[topic_id] = list(texts)
    return answers


def _add(texts: dict[str, None], answer: Answer) -> None:
    texts[answer_speech(answer)[0]] = None
    pieces = answer.detail_pieces
    for index, piece in enumerate(pieces):
        texts[details_speech(piece, more=index < len(pieces) - 1)] = None
