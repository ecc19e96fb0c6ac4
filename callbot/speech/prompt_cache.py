"""Fixed prompts rendered once at start-up, so the greeting plays the moment a call is answered.

``PromptCache.render(texts, rate)`` synthesises every sentence of the fixed prompts
(``callbot.conversation.prompts.fixed_prompts(town)``) once per sample rate; the TTS service
then serves any sentence found here without synthesising it. Sentences, not whole prompts, are
the unit: pipecat may hand the TTS a prompt whole or sentence by sentence, and an answer that
merely ends with a fixed sentence ("Puis-je vous aider pour autre chose ?") still gets it free.

Three extras: with a ``cache_dir`` the rendered prompts are kept on disk (a restart reads them
back instead of synthesising); ``render_answers`` keeps every sentence of the knowledge-base
answers (``callbot/speech/answer_prerender.py`` fills it in the background), never evicted,
also on disk; and the service ``remember``s the last ``max_learned`` other sentences it
synthesised, so an answer asked for by many callers is synthesised once.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from callbot.speech.audio import duration_sec
from callbot.speech.piper_voice import PiperVoiceModel, spoken_sentences

DEFAULT_MAX_LEARNED = 500  # sentences; ~3 s each at 8 kHz is ~25 MB


@dataclass(frozen=True)
class RenderReport:
    """What one ``render`` did: how many sentences it synthesised, how much audio, how long."""

    rate_hz: int
    sentences: int
    rendered: int  # sentences synthesised now; the others were in memory or on disk
    audio_sec: float
    render_sec: float
    failed: int = 0  # sentences Piper failed on (``render_answers`` only: logged and skipped)


class RenderStopped(Exception):
    """``render_answers`` was asked to stop before its end."""


class PromptCache:
    """PCM16 per (spoken sentence, sample rate); filled by ``render``, read by the TTS service."""

    def __init__(self, voice: PiperVoiceModel, cache_dir: Path | None = None,
                 max_learned: int = DEFAULT_MAX_LEARNED) -> None:
        self._voice = voice
        self._dir = cache_dir
        self._max_learned = max_learned
        self._fixed: dict[tuple[str, int], bytes] = {}
        self._answers: dict[tuple[str, int], bytes] = {}
        self._learned: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._fixed)

    @property
    def answer_bytes(self) -> int:
        """PCM held for the knowledge-base answers (``render_answers``)."""
        return sum(map(len, list(self._answers.values())))

    def render(self, texts: Iterable[str], rate_hz: int) -> RenderReport:
        """Synthesise every sentence of ``texts`` not cached yet; blocking: call it in a thread."""
        started = time.perf_counter()
        sentences = _sentences(texts)
        rendered = 0
        audio_sec = 0.0
        for sentence in sentences:
            key = (sentence, rate_hz)
            if key in self._fixed:
                continue
            audio, synthesised = self._load_or_synthesise(key)
            rendered += synthesised
            audio_sec += duration_sec(audio, rate_hz)
            with self._lock:
                self._fixed[key] = audio
        report = RenderReport(rate_hz, len(sentences), rendered, audio_sec,
                              time.perf_counter() - started)
        logger.info("prompt cache: {} sentences at {} Hz, {} synthesised ({:.1f} s of audio) in "
                    "{:.2f} s", report.sentences, rate_hz, rendered, audio_sec, report.render_sec)
        return report

    def render_answers(self, texts: Iterable[str], rate_hz: int,
                       stop: threading.Event | None = None,
                       before_synthesis: Callable[[], None] | None = None) -> RenderReport:
        """Hold exactly the sentences of ``texts`` at ``rate_hz`` in the answers store: each is
        served as soon as it is rendered; those of earlier answers no longer said are dropped
        at the end. A sentence Piper fails on is logged and skipped; ``stop`` set ends the
        render between two sentences (shutdown); ``before_synthesis`` is called before each
        sentence not on disk yet (it may wait: the pre-render gives way to calls). Blocking:
        call it in a thread."""
        started = time.perf_counter()
        sentences = [s for s in _sentences(texts) if (s, rate_hz) not in self._fixed]

        def give_way() -> None:
            if before_synthesis is not None:
                before_synthesis()
            if stop is not None and stop.is_set():
                raise RenderStopped

        rendered = failed = 0
        audio_sec = 0.0
        for sentence in sentences:
            if stop is not None and stop.is_set():
                raise RenderStopped
            key = (sentence, rate_hz)
            audio = self.get(sentence, rate_hz)
            if audio is None:
                try:
                    audio, synthesised = self._load_or_synthesise(key, give_way)
                except RenderStopped:
                    raise
                except Exception as error:  # one bad text must not cost the others
                    logger.warning("prompt cache: cannot render [{}]: {}", sentence, error)
                    failed += 1
                    continue
                rendered += synthesised
            audio_sec += duration_sec(audio, rate_hz)
            with self._lock:
                self._answers[key] = audio
        wanted = {(s, rate_hz) for s in sentences}
        with self._lock:
            self._answers = {k: v for k, v in self._answers.items()
                             if k[1] != rate_hz or k in wanted}
        return RenderReport(rate_hz, len(sentences), rendered, audio_sec,
                            time.perf_counter() - started, failed)

    def get(self, sentence: str, rate_hz: int) -> bytes | None:
        """The cached audio of one spoken sentence (as ``spoken_sentences`` cuts them)."""
        key = (sentence, rate_hz)
        audio = self._fixed.get(key)
        if audio is None:
            audio = self._answers.get(key)
        if audio is not None:
            return audio
        with self._lock:
            audio = self._learned.get(key)
            if audio is not None:
                self._learned.move_to_end(key)
            return audio

    def remember(self, sentence: str, rate_hz: int, audio: bytes) -> None:
        """Keep a synthesised sentence for the next caller; the oldest unused one goes first."""
        if self._max_learned <= 0:
            return
        with self._lock:
            self._learned[(sentence, rate_hz)] = audio
            self._learned.move_to_end((sentence, rate_hz))
            while len(self._learned) > self._max_learned:
                self._learned.popitem(last=False)

    def covers(self, text: str, rate_hz: int) -> bool:
        """Whether every sentence of ``text`` is cached at ``rate_hz``."""
        return all(self.get(s, rate_hz) is not None for s in spoken_sentences(text))

    def _load_or_synthesise(self, key: tuple[str, int],
                            before_synthesis: Callable[[], None] | None = None
                            ) -> tuple[bytes, bool]:
        """The sentence's audio from disk, else from Piper (then written to disk), after
        ``before_synthesis`` (which may wait, or raise to stop)."""
        audio = self._read_disk(key)
        if audio is not None:
            return audio, False
        if before_synthesis is not None:
            before_synthesis()
        audio = self._voice.render(*key)
        self._write_disk(key, audio)
        return audio, True

    def _disk_path(self, key: tuple[str, int]) -> Path | None:
        if self._dir is None:
            return None
        voice = self._voice.path
        stat = voice.stat()
        identity = f"{voice}|{stat.st_size}|{stat.st_mtime_ns}|{key[1]}|{key[0]}"
        return self._dir / f"{hashlib.sha256(identity.encode()).hexdigest()[:40]}.pcm"

    def _read_disk(self, key: tuple[str, int]) -> bytes | None:
        path = self._disk_path(key)
        return path.read_bytes() if path is not None and path.is_file() else None

    def _write_disk(self, key: tuple[str, int], audio: bytes) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(audio)
            partial.replace(path)
        except OSError as error:  # a read-only disk costs a re-render next time, nothing more
            logger.warning("prompt cache: cannot write {}: {}", path, error)


def _sentences(texts: Iterable[str]) -> list[str]:
    """The distinct spoken sentences of ``texts``, in order."""
    return list(dict.fromkeys(s for text in texts for s in spoken_sentences(text)))
