"""The recorded audio of a message left out of hours: kept only when recording is on.

A message is first its transcript (``callbot.store.messages``, redacted). When the town
switches recording on (``store.recording``), the caller's sentence that was the message is
kept too, as ``<state_dir>/message_audio/<message id>.wav``, for agents who want to hear it
(a name, a street the recognition got wrong). It has its own period,
``store.message_audio_days``; the purge deletes it then, with its message if that goes first,
and all of it once recording is switched off. A voice cannot be redacted: this file is the
most personal thing Callbot keeps, hence off by default and the short period.
"""

from __future__ import annotations

import os
import tempfile
import wave
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from callbot.config import StoreSettings

AUDIO_DIR = "message_audio"
SAMPLE_WIDTH_BYTES = 2  # 16-bit signed PCM, as pipecat frames carry it
WRITING_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class HeardAudio:
    """What one sentence of the caller sounded like: mono PCM16 at ``sample_rate_hz``."""

    pcm: bytes = field(repr=False)
    sample_rate_hz: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / SAMPLE_WIDTH_BYTES / self.sample_rate_hz


def keeps_audio(store: StoreSettings) -> bool:
    """Whether a message's audio is kept at all (recording on, a period above 0)."""
    return store.recording and store.message_audio_days > 0


def audio_dir(store: StoreSettings) -> Path:
    return store.state_dir / AUDIO_DIR


def audio_path(store: StoreSettings, message_id: int) -> Path:
    return audio_dir(store) / f"{message_id}.wav"


def save_audio(store: StoreSettings, message_id: int, audio: HeardAudio) -> Path:
    """Write the message's audio as a WAV file (atomically, mode 0600); blocking."""
    directory = audio_dir(store)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=".message-", suffix=".wav", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle, wave.open(handle, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(SAMPLE_WIDTH_BYTES)
            out.setframerate(audio.sample_rate_hz)
            out.writeframes(audio.pcm)
        os.chmod(temporary, 0o600)
        final = audio_path(store, message_id)
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return final


def purge_audio(directory: Path, now: datetime, days: int | None,
                kept_ids: Collection[int]) -> int:
    """Delete the audio older than ``days`` (``None``: all of it, recording is off) and that
    of messages no longer kept (purged with their call, or older than the log's period);
    how many files went. A file of the last hour whose message is not listed is being
    written (its message stored a moment ago, or the WAV not renamed yet): left for now."""
    if not directory.is_dir():
        return 0
    cutoff = now if days is None else now - timedelta(days=days)
    removed = 0
    for path in directory.iterdir():
        if not path.is_file():
            continue
        written = datetime.fromtimestamp(path.stat().st_mtime)
        orphan = not (path.stem.isdigit() and int(path.stem) in kept_ids) and \
            written < now - WRITING_GRACE
        if orphan or written < cutoff or days is None:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
