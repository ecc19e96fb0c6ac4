"""The NLU the bot uses: dialogue acts from the classifier, topics from the knowledge base.

The classifier (embedded SVM or a Rasa server) knows the dialogue acts (yes, no, repeat,
goodbye, a person, out of scope) and the contract's topics it was trained on. Topics are
matched by the retriever over the knowledge base's own questions, so a topic an editor
writes is understood on the next turn after the index is rebuilt (a second or two, in a
background thread), without training. The result keeps Rasa's parse shape; the matched
entry travels in ``response_selector`` (``ParseResult.knowledge``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from loguru import logger

from callbot.kb.model import KnowledgeBase
from callbot.nlu.intents import DIALOGUE_INTENTS, NLU_FALLBACK, OUT_OF_SCOPE
from callbot.nlu.openers import leading_yes_no, strip_openers
from callbot.nlu.result import IntentScore, ParseResult
from callbot.nlu.retriever import Retrieval, TopicRetriever
from callbot.nlu.text import clean_input

#: The classifier's dialogue act is kept above this confidence ("merci", "au revoir").
DIALOGUE_MIN_CONFIDENCE = 0.5
#: A "oui …" followed by a question this sure of its topic is that question.
QUESTION_AFTER_YES_MIN_CONFIDENCE = 0.6
#: Retrieval scores this close are a tie, which the classifier's topic (if one of them) breaks.
TIE_MARGIN = 0.03
_ACTS = frozenset(DIALOGUE_INTENTS) - {OUT_OF_SCOPE}
RANKING_SIZE = 10

BuildRetriever = Callable[[KnowledgeBase], TopicRetriever]


class LiveRetriever:
    """The retriever for the current knowledge base; rebuilt in the background on a change.

    Calls go on with the previous index while the new one is built, then it is swapped in
    one assignment; a build that fails keeps the previous one, and says so.
    """

    def __init__(self, knowledge_base: Callable[[], KnowledgeBase], build: BuildRetriever,
                 examples_version: Callable[[], str] = lambda: "") -> None:
        self._knowledge_base = knowledge_base
        self._build = build
        self._examples_version = examples_version  # the classifier's data: indexed too
        kb = knowledge_base()
        self.current = build(kb)
        self.version = self._version_of(kb)
        self._building: threading.Thread | None = None

    def _version_of(self, kb: KnowledgeBase) -> str:
        return f"{kb.revision}+{self._examples_version()}"

    def get(self) -> TopicRetriever:
        kb = self._knowledge_base()
        version = self._version_of(kb)
        if version != self.version and self._building is None:
            self._building = threading.Thread(target=self._rebuild, args=(kb, version),
                                              name="topic-index", daemon=True)
            self._building.start()
        return self.current

    def _rebuild(self, kb: KnowledgeBase, version: str) -> None:
        try:
            started = time.perf_counter()
            self.current = self._build(kb)
            logger.info(f"topic index swapped for revision {kb.revision} in "
                        f"{time.perf_counter() - started:.1f} s")
        except Exception as exc:  # a bad index must never take the bot down
            logger.opt(exception=exc).error(f"topic index for revision {kb.revision} failed; "
                                            f"keeping revision {self.current.revision}")
        finally:
            self.version = version  # a failed version is not retried on every turn
            self._building = None

    def wait(self, timeout_sec: float = 120.0) -> None:
        """Start a rebuild if the knowledge base changed and wait for it (tests, benches)."""
        self.get()
        building = self._building
        if building:
            building.join(timeout_sec)


class KnowledgeNLU:
    """``parse(text) → ParseResult`` over a classifier and a live topic retriever."""

    def __init__(self, classifier: Any, retriever: LiveRetriever) -> None:
        self.classifier = classifier
        self.retriever = retriever

    def parse(self, text: str) -> ParseResult:
        said = self._classify(text)
        question = strip_openers(said.text)
        retriever = self.retriever.get()
        classified = {s.name: s.confidence for s in said.intent_ranking}
        found = retriever.match(question, classified)
        if said.intent.name in _ACTS and said.intent.confidence >= DIALOGUE_MIN_CONFIDENCE:
            asked = leading_yes_no(question) if said.intent.name in ("affirm", "deny") else None
            if asked:
                after_yes = retriever.match(asked, self._probabilities(asked))
                best = after_yes.best
                if best and best.confidence >= QUESTION_AFTER_YES_MIN_CONFIDENCE:
                    return self._topic(said, after_yes)
            return replace(said, intent_ranking=_merged(said, found), knowledge=found.matches)
        if found.best is None:
            return said
        return self._topic(said, found)

    def _probabilities(self, text: str) -> dict[str, float]:
        return {s.name: s.confidence for s in self.classifier.parse(text).intent_ranking}

    def _classify(self, text: str) -> ParseResult:
        """The classifier's reading of the question without its opener ("allô bonjour c'est
        combien…" is no greeting), reported on the caller's whole sentence."""
        text = clean_input(text)
        question = strip_openers(text)
        if question == text:
            return self.classifier.parse(text)
        said = self.classifier.parse(question)
        shift = len(text) - len(question)
        entities = tuple(replace(e, start=e.start + shift, end=e.end + shift)
                         for e in said.entities)
        return replace(said, text=text, entities=entities)

    def _topic(self, said: ParseResult, found: Retrieval) -> ParseResult:
        best = found.best
        assert best is not None
        # The retriever's calibrated confidence, unless the classifier, trained on the
        # contract's topics, names the same topic: two readings that agree are kept at the
        # surer one. The classifier alone is sure of the nearest topic it knows even when a
        # question has none; agreeing with the retriever over all topics is what it adds.
        tied = [m for m in found.matches if best.score - m.score <= TIE_MARGIN]
        agreed = next((m for m in tied if m.topic == said.intent.name), None)
        if agreed is not None:  # the retriever cannot separate them; the classifier can
            best = replace(agreed, confidence=max(agreed.confidence, said.intent.confidence))
            rest = tuple(m for m in found.matches if m is not agreed)
            found = Retrieval((best, *rest))
        confidence = best.confidence
        if said.intent.name == OUT_OF_SCOPE and said.intent.confidence >= confidence:
            return replace(said, intent_ranking=_merged(said, found), knowledge=found.matches)
        threshold = getattr(getattr(self.classifier, "params", None), "fallback_threshold", 0.3)
        if confidence >= threshold:
            intent = IntentScore(best.topic, confidence)
        elif said.intent.name == OUT_OF_SCOPE:
            intent = said.intent
        else:
            intent = IntentScore(NLU_FALLBACK, threshold)
        return replace(said, intent=intent, intent_ranking=_merged(said, found),
                       knowledge=found.matches)

    def wait(self, timeout_sec: float = 120.0) -> None:
        """The classifier's retraining and the retriever's rebuild, both done."""
        waiting = getattr(self.classifier, "wait", None)
        if waiting:
            waiting(timeout_sec)
        self.retriever.wait(timeout_sec)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.classifier, name)


def _merged(said: ParseResult, found: Retrieval) -> tuple[IntentScore, ...]:
    """The classifier's dialogue acts and the retriever's topics in one ranking."""
    scores: dict[str, float] = {}
    for score in said.intent_ranking:
        if score.name in DIALOGUE_INTENTS:
            scores[score.name] = score.confidence
    for match in found.matches:
        scores[match.topic] = max(scores.get(match.topic, 0.0), match.confidence)
    ranking = sorted(scores.items(), key=lambda item: -item[1])[:RANKING_SIZE]
    return tuple(IntentScore(name, confidence) for name, confidence in ranking)
