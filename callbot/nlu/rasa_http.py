"""NLU backend that asks a Rasa server (``POST /model/parse``), with the embedded NLU as safety net.

A turn must never wait on a slow or dead Rasa: each request has a timeout, and on timeout,
connection error or a malformed answer the turn is parsed by the embedded classifier
instead; the fallback is logged and counted (``fallback_count``, for /metrics).

The conversation calls ``parse`` synchronously from worker threads, so the aiohttp session
lives on a private event loop in a background thread; ``parse`` and ``parse_async`` both
submit their request to that loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable

import aiohttp
from loguru import logger

from callbot.nlu.intents import NLU_FALLBACK
from callbot.nlu.rasa_answer import MAX_ANSWER_BYTES, RasaAnswerError, parse_answer
from callbot.nlu.result import ParseResult
from callbot.nlu.text import clean_input, features_text

_CLOSE_SEC = 5.0
#: Errors that make a turn fall back to the embedded NLU.
_FALLBACK_ERRORS = (TimeoutError, concurrent.futures.TimeoutError, aiohttp.ClientError,
                    ValueError, KeyError, TypeError)


class RasaUnavailable(RuntimeError):
    """Rasa did not answer usefully and no fallback NLU was given."""


class RasaHttpNLU:
    """``parse(text) → ParseResult`` from a Rasa server; thread-safe."""

    def __init__(self, url: str, timeout_sec: float = 2.0,
                 fallback: Callable[[str], ParseResult] | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_sec = timeout_sec
        self._fallback = fallback
        self._count_lock = threading.Lock()
        self.fallback_count = 0
        self._loop = asyncio.new_event_loop()
        self._session: aiohttp.ClientSession | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="rasa-http",
                                        daemon=True)
        self._thread.start()

    async def _request(self, text: str) -> ParseResult:
        """Runs on the private loop: one POST, the whole of it bounded by the timeout."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_sec))
        async with self._session.post(f"{self.url}/model/parse", json={"text": text}) as response:
            response.raise_for_status()
            raw = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                raw += chunk
                if len(raw) > MAX_ANSWER_BYTES:
                    raise RasaAnswerError(f"answer larger than {MAX_ANSWER_BYTES} bytes")
        return parse_answer(bytes(raw))

    def _submit(self, text: str) -> concurrent.futures.Future[ParseResult]:
        if self._loop.is_closed():
            raise RasaUnavailable("RasaHttpNLU is closed")
        return asyncio.run_coroutine_threadsafe(self._request(text), self._loop)

    def _fall_back(self, text: str, error: BaseException) -> ParseResult:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if self._fallback is None:
            raise RasaUnavailable(f"Rasa at {self.url} failed: {reason}") from error
        with self._count_lock:
            self.fallback_count += 1
        logger.warning(f"Rasa at {self.url} failed ({reason}); this turn uses the embedded NLU")
        return self._fallback(text)

    def _empty(self, text: str) -> ParseResult | None:
        """Nothing to classify (silence, noise): the embedded NLU's answer, no request."""
        if features_text(text):
            return None
        if self._fallback is None:
            return ParseResult.from_dict({"text": text, "intent": {"name": NLU_FALLBACK,
                                                                   "confidence": 1.0}})
        return self._fallback(text)

    def parse(self, text: str) -> ParseResult:
        """Blocking parse, for worker threads (never call it on an event loop)."""
        text = clean_input(text)
        if (empty := self._empty(text)) is not None:
            return empty
        future = self._submit(text)
        try:
            return future.result(timeout=self.timeout_sec + 1.0)
        except _FALLBACK_ERRORS as exc:
            future.cancel()
            return self._fall_back(text, exc)

    async def parse_async(self, text: str) -> ParseResult:
        """Non-blocking parse, from any event loop; the fallback runs in a thread."""
        text = clean_input(text)
        if not features_text(text):
            return await asyncio.to_thread(self.parse, text)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(self._submit(text)),
                                          self.timeout_sec + 1.0)
        except _FALLBACK_ERRORS as exc:
            return await asyncio.to_thread(self._fall_back, text, exc)

    def close(self) -> None:
        """Close the HTTP session, stop the private loop and its thread; idempotent."""
        if self._loop.is_closed():
            return

        async def _close_session() -> None:
            if self._session is not None:
                await self._session.close()

        try:
            asyncio.run_coroutine_threadsafe(_close_session(), self._loop).result(_CLOSE_SEC)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_CLOSE_SEC)
            self._loop.close()

    def __enter__(self) -> RasaHttpNLU:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
