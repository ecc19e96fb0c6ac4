"""Knowledge-base answers rendered in the background, so a first caller's answer plays at once.

Once ``callbot serve`` takes calls, one daemon thread at the lowest priority (nice +19: it gets
only the CPU the calls leave) renders every sentence of every answer the policy would say now
(``callbot/conversation/spoken_answers.py``) at the telephone rates into the ``PromptCache``'s
answers store, which keeps them on disk too: a restart reads them back. Every ``check_sec`` it
composes the answers again (tens of milliseconds): after a knowledge-base reload (a save in the
web editor) or when a time-dependent slot (the hours of today) has changed, only the new
sentences are synthesised, and those no longer said are dropped.

It gives way to calls: while one is on (``busy``), it synthesises nothing (reading sentences
back from disk goes on). Nice +19 bounds its CPU, not its hold on the GIL: Piper's Python
side between two inferences, and a whole-KB render is minutes of one core, measured as 40 %
of the serve's samples during a latency bench with five calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from loguru import logger

from callbot.speech.decoder_pool import lower_thread_priority
from callbot.speech.prompt_cache import PromptCache, RenderReport, RenderStopped

#: Below the decoder threads (+5): synthesis for later callers never delays a call in progress.
PRERENDER_NICENESS = 19
CHECK_SEC = 10.0
PAUSE_POLL_SEC = 0.5  # while calls are on, how often the pre-render looks again
#: Topic id → the texts the bot says for it now.
AnswerTexts = Callable[[], dict[str, list[str]]]


class AnswerPrerender:
    """Keeps the cache's answers store equal to the answers the policy would say now."""

    def __init__(self, cache: PromptCache, answers: AnswerTexts, rates_hz: Sequence[int],
                 check_sec: float = CHECK_SEC, busy: Callable[[], bool] | None = None) -> None:
        """``busy``: whether calls are on (synthesis waits until none is)."""
        self._cache = cache
        self._busy = busy
        self._answers = answers
        self._rates_hz = tuple(rates_hz)
        self._check_sec = check_sec
        self._said: set[str] | None = None  # the texts of the last pass
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # passes that found new texts to render
        self.pauses = 0  # times a synthesis waited for the calls to end

    def start(self) -> AnswerPrerender:
        self._thread = threading.Thread(target=self._run, name="answer-prerender", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_sec: float = 5.0) -> None:
        """Blocking (the sentence being synthesised finishes first): call it in a thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_sec)

    def run_pass(self) -> list[RenderReport] | None:
        """Compose the answers; render them if they changed since the last pass (else ``None``).
        Blocking: the background thread calls it, tests too."""
        started, cpu_started = time.perf_counter(), time.thread_time()
        by_topic = self._answers()
        texts = list(dict.fromkeys(t for topic_texts in by_topic.values() for t in topic_texts))
        changed = [t for t in texts if self._said is None or t not in self._said]
        if self._said is not None and not changed and len(texts) == len(self._said):
            return None
        reports = [self._cache.render_answers(texts, rate, self._stopping, self._give_way)
                   for rate in self._rates_hz]
        self._said = set(texts)
        self.passes += 1
        logger.info(
            "answer pre-render: {} topics, {} answers ({} new) at {} Hz: {} sentences, "
            "{} synthesised, {} failed; {:.1f} MB held; {:.1f} s (CPU {:.1f} s)",
            len(by_topic), len(texts), len(changed), "/".join(map(str, self._rates_hz)),
            sum(r.sentences for r in reports), sum(r.rendered for r in reports),
            sum(r.failed for r in reports), self._cache.answer_bytes / 1e6,
            time.perf_counter() - started, time.thread_time() - cpu_started)
        return reports

    def _give_way(self) -> None:
        """Before a synthesis: wait while calls are on (or until stopped)."""
        if self._busy is None or not self._busy():
            return
        self.pauses += 1
        logger.debug("answer pre-render: paused while calls are on")
        while self._busy() and not self._stopping.wait(PAUSE_POLL_SEC):
            pass

    def _run(self) -> None:
        lower_thread_priority(PRERENDER_NICENESS)
        while not self._stopping.is_set():
            try:
                self.run_pass()
            except RenderStopped:
                return
            except Exception:  # a bug or a bad knowledge base: calls synthesise, as before
                logger.exception("answer pre-render failed; trying again in {} s",
                                 self._check_sec)
            self._stopping.wait(self._check_sec)
