"""What a callbot process loads once and shares by all calls: NLU and knowledge base."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from callbot.config import Settings
from callbot.conversation.policy import PolicyParams
from callbot.conversation.session import Conversation
from callbot.kb.live import LiveKnowledgeBase
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase
from callbot.nlu.backend import load_embedded_nlu, training_examples
from callbot.nlu.embedded import EmbeddedNLU
from callbot.nlu.encoder import CachedEncoder, load_encoder
from callbot.nlu.index_cache import index_key, load_or_build
from callbot.nlu.knowledge import KnowledgeNLU, LiveRetriever
from callbot.nlu.live import LiveNLU
from callbot.nlu.retriever import TopicRetriever

if TYPE_CHECKING:
    from callbot.errands.runner import ErrandRunner


@dataclass
class Brain:
    settings: Settings
    nlu: KnowledgeNLU  # the classifier (``LiveNLU``) and the topic retriever
    kb: LiveKnowledgeBase
    #: the calendar and SMS connectors of ``errands`` settings; None when none is configured
    errands: ErrandRunner | None = None

    @classmethod
    def load(cls, settings: Settings) -> Brain:
        """Load everything; raises ``DataError`` when the data or knowledge base is invalid."""
        kb = LiveKnowledgeBase(settings.knowledge_base_path)
        classifier = LiveNLU(lambda: cls.load_nlu(settings), settings.data_dir)  # swapped on change
        return cls(settings, cls.knowledge_nlu(settings, classifier, kb.refresh), kb,
                   cls.errand_runner(settings))

    @staticmethod
    def errand_runner(settings: Settings) -> ErrandRunner | None:
        """Appointments, SMS and messages when a calendar, an SMS gateway or an SMTP server is
        configured."""
        from callbot.errands.connectors.factory import build_connectors
        from callbot.errands.runner import ErrandRunner

        connectors = build_connectors(settings.errands, settings.timezone)
        if connectors.calendar is None and connectors.sms is None and connectors.mail is None:
            return None
        return ErrandRunner(connectors, settings.store)

    @staticmethod
    def knowledge_nlu(settings: Settings, classifier: Any,
                      knowledge_base: Callable[[], KnowledgeBase],
                      cache_index: bool = True) -> KnowledgeNLU:
        """Topics from the knowledge base's retriever, dialogue acts from ``classifier``;
        ``cache_index=False`` for throwaway indexes (the bench's folds)."""
        encoder = load_encoder(settings.nlu.encoder)
        cached = CachedEncoder(encoder, settings.nlu.cache_dir) if encoder else None

        def cues(texts: list[str]) -> Any:
            """The embedded classifier's probabilities (a Rasa server gives none: no cue)."""
            current = getattr(classifier, "current", classifier)
            if not hasattr(current, "probabilities"):
                return [], np.zeros((len(texts), 0))
            return current.intents, current.probabilities(texts)

        def examples_version() -> str:  # retrained on new examples: index them too
            current = getattr(classifier, "current", classifier)
            return (f"{type(current).__name__}:{getattr(current, 'fingerprint', '')}:"
                    f"{getattr(current, 'params', '')}")

        def build(kb: KnowledgeBase) -> TopicRetriever:
            examples = training_examples(settings.data_dir)
            key = index_key(kb.revision, examples, examples_version(),
                            cached.name if cached else "")
            return load_or_build(key, settings.nlu.cache_dir if cache_index else None,
                                 lambda: TopicRetriever(kb, examples, cached, cues),
                                 lambda index: index.attach(cached, cues))

        return KnowledgeNLU(classifier, LiveRetriever(knowledge_base, build, examples_version))

    @classmethod
    def load_parser(cls, settings: Settings) -> KnowledgeNLU:
        """What ``callbot nlu parse`` and ``nlu eval`` use: the bot's NLU, for one run."""
        kb = load_knowledge_base(settings.knowledge_base_path)
        return cls.knowledge_nlu(settings, cls.load_nlu(settings), lambda: kb)

    @staticmethod
    def load_nlu(settings: Settings) -> EmbeddedNLU:
        """The backend ``nlu.backend`` names; "rasa" keeps the embedded NLU as its fallback."""
        embedded = load_embedded_nlu(settings.data_dir, settings.nlu.cache_dir,
                                     settings.nlu.fallback_threshold)
        if settings.nlu.backend == "embedded":
            return embedded
        if settings.nlu.backend == "rasa":
            from callbot.nlu.rasa_http import RasaHttpNLU

            return RasaHttpNLU(settings.nlu.rasa_url, settings.nlu.rasa_timeout_sec,  # type: ignore[return-value]
                               fallback=embedded.parse)
        raise ValueError(f'nlu.backend must be "embedded" or "rasa", not {settings.nlu.backend!r}')

    def policy_params(self) -> PolicyParams:
        return self.policy_params_of(self.settings)

    @staticmethod
    def policy_params_of(settings: Settings) -> PolicyParams:
        """The policy's settings; ``nlu eval`` counts answers with them too."""
        policy = settings.policy
        return PolicyParams(
            answer_threshold=settings.nlu.answer_threshold,
            call_time_limit_sec=policy.call_time_limit_sec,
            max_misunderstandings=policy.max_misunderstandings,
            max_silences=policy.max_silences,
        )

    def local_clock(self) -> Callable[[], datetime]:
        """Naive local time of the town (opening hours are local), or the configured fixed time."""
        if self.settings.fixed_now:
            frozen = datetime.fromisoformat(self.settings.fixed_now).replace(tzinfo=None)
            return lambda: frozen
        zone = ZoneInfo(self.settings.timezone)
        return lambda: datetime.now(zone).replace(tzinfo=None)

    def topic_label(self, topic_id: str | None) -> str | None:
        """How a topic is named to people (its label), for transcripts; None if not a topic."""
        topic = self.kb.current.topics.get(topic_id or "")
        return topic.label if topic else None

    def conversation(self, clock: Callable[[], datetime] | None = None) -> Conversation:
        return Conversation(self.nlu.parse, self.kb.refresh, clock or self.local_clock(),
                            self.policy_params(), errands=self.errands)
