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
from callbot.nlu.live import LiveNLU


@dataclass
class Brain:
    settings: Settings
    nlu: LiveNLU  # wraps what load_nlu returns
    kb: LiveKnowledgeBase

    @classmethod
    def load(cls, settings: Settings) -> Brain:
        """Load everything; raises ``DataError`` when the data or knowledge base is invalid."""
        kb = LiveKnowledgeBase(settings.knowledge_base_path)
        nlu = LiveNLU(lambda: cls.load_nlu(settings), settings.data_dir)  # retrained data: swapped
        return cls(settings, nlu, kb)

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

    def conversation(self, clock: Callable[[], datetime] | None = None) -> Conversation:
        return Conversation(self.nlu.parse, self.kb.refresh, clock or self.local_clock(),
                            self.policy_params())
