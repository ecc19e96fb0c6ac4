"""Small audio helpers shared by the speech services, the tests and the benchmarks.

Audio everywhere in Callbot is 16-bit signed little-endian mono PCM ("slin"), the format
pipecat frames, Vosk, Piper and Asterisk all use, so these helpers take and return ``bytes``.
"""

from __future__ import annotations

import wave
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import soxr

SAMPLE_WIDTH_BYTES = 2


def resample_pcm16(audio: bytes, in_rate_hz: int, out_rate_hz: int) -> bytes:
    """Resample a whole PCM buffer (one sentence, one segment) with soxr; CPU-bound.

    For a buffer that is complete in itself: no state is carried between calls, so call it on
    whole sentences or segments, not on 20 ms frames of a stream.
    """
    if in_rate_hz == out_rate_hz or not audio:
        return audio
    samples = np.frombuffer(audio, dtype=np.int16)
    resampled = soxr.resample(samples, in_rate_hz, out_rate_hz, quality="HQ")
    return np.asarray(resampled, dtype=np.int16).tobytes()


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] → PCM16 bytes, clipping what overshoots."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()


def duration_sec(audio: bytes, rate_hz: int) -> float:
    return len(audio) / (SAMPLE_WIDTH_BYTES * rate_hz)


def silence(seconds: float, rate_hz: int) -> bytes:
    return bytes(int(seconds * rate_hz) * SAMPLE_WIDTH_BYTES)


#: Below this peak (about -60 dBFS) the start of a synthesised sentence is silence, not speech.
SILENCE_PEAK = 32


def trim_leading_silence(audio: bytes, rate_hz: int, keep_ms: int = 5) -> bytes:
    """Drop the silence a synthesiser puts before the first word (Piper: 25-60 ms), keeping
    ``keep_ms`` of it so that a soft onset is not clipped: on the phone it is dead air."""
    samples = np.frombuffer(audio[: len(audio) // 2 * 2], dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_PEAK)
    if not loud.size:
        return audio
    start = max(0, int(loud[0]) - rate_hz * keep_ms // 1000)
    return audio[start * SAMPLE_WIDTH_BYTES:]


def chunks(audio: bytes, rate_hz: int, chunk_ms: int) -> Iterator[bytes]:
    """Cut PCM into pieces of ``chunk_ms`` (the last one may be shorter), as a transport would."""
    size = max(SAMPLE_WIDTH_BYTES, rate_hz * chunk_ms // 1000 * SAMPLE_WIDTH_BYTES)
    for start in range(0, len(audio), size):
        yield audio[start:start + size]


def rms(audio: bytes) -> float:
    """Root mean square of PCM16 samples (0 for silence, up to 32767)."""
    if len(audio) < SAMPLE_WIDTH_BYTES:
        return 0.0
    samples = np.frombuffer(audio[: len(audio) // 2 * 2], dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples)))


def read_wav(path: Path) -> tuple[bytes, int]:
    """(PCM16 mono bytes, rate) of a WAV file; a clear ``ValueError`` for anything else."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != SAMPLE_WIDTH_BYTES or wav.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono WAV, got {wav.getsampwidth() * 8}-bit "
                             f"with {wav.getnchannels()} channel(s)")
        return wav.readframes(wav.getnframes()), wav.getframerate()


def write_wav(path: Path, audio: bytes, rate_hz: int) -> Path:
    """Write PCM16 mono bytes as a WAV file (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH_BYTES)
        wav.setframerate(rate_hz)
        wav.writeframes(audio)
    return path


def mean_word_confidence(words: Iterable[Mapping[str, object]]) -> float | None:
    """Mean of the ``conf`` of recognised words (Vosk's shape); ``None`` when no word came out.

    The policy reads a low mean as a shaky transcript, like a low NLU confidence.
    """
    confidences = [float(conf) for word in words
                   if isinstance(conf := word.get("conf"), int | float)]
    return sum(confidences) / len(confidences) if confidences else None
