"""What a callbot process loads once and shares by all calls: NLU and knowledge base."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from callbot.config import Settings
from callbot.conversation.policy import PolicyParams
from callbot.conversation.session import Conversation
from callbot.kb.live import LiveKnowledgeBase
from callbot.nlu.backend import load_embedded_nlu
from callbot.nlu.embedded import EmbeddedNLU


@dataclass
class Brain:
    settings: Settings
    nlu: EmbeddedNLU
    kb: LiveKnowledgeBase

    @classmethod
    def load(cls, settings: Settings) -> Brain:
        """Load everything; raises ``DataError`` when the data or knowledge base is invalid."""
        kb = LiveKnowledgeBase(settings.knowledge_base_path)
        return cls(settings, cls.load_nlu(settings), kb)

    @staticmethod
    def load_nlu(settings: Settings) -> EmbeddedNLU:
        return load_embedded_nlu(settings.data_dir, settings.nlu.cache_dir,
                                 settings.nlu.fallback_threshold)

    def policy_params(self) -> PolicyParams:
        policy = self.settings.policy
        return PolicyParams(
            answer_threshold=self.settings.nlu.answer_threshold,
            call_time_limit_sec=policy.call_time_limit_sec,
            max_misunderstandings=policy.max_misunderstandings,
            max_silences=policy.max_silences,
        )

    def local_clock(self) -> Callable[[], datetime]:
        """Naive local time of the town (opening hours are local)."""
        zone = ZoneInfo(self.settings.timezone)
        return lambda: datetime.now(zone).replace(tzinfo=None)

    def conversation(self, clock: Callable[[], datetime] | None = None) -> Conversation:
        return Conversation(self.nlu.parse, self.kb.refresh, clock or self.local_clock(),
                            self.policy_params())
