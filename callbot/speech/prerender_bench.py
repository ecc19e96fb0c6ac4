"""What pre-rendering the knowledge-base answers costs and saves, in one run.

``python3 -m callbot.speech.prerender_bench [--voice NAME_OR_PATH] [--repeat N]``: the first
TTS chunk of every topic's answer cold (synthesised, as a first caller gets it without the
pre-render) and after the pre-render (served from the cache), the time, CPU and memory of the
pre-render of the whole knowledge base, and a restart reading it back from disk. The first
chunk is what ``PiperTTSService.run_tts`` does before its first frame: the cache lookup, else
the synthesis of the first piece, then the leading-silence trim. One line per figure on
stderr, a final JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from callbot.config import Settings

PHONE_RATE_HZ = 8000


def _first_chunk_sec(cache: Any, voice: Any, piece: str) -> float:
    from callbot.speech.audio import trim_leading_silence

    started = time.perf_counter()
    audio = cache.get(piece, PHONE_RATE_HZ)
    if audio is None:
        audio = voice.render(piece, PHONE_RATE_HZ)
    trim_leading_silence(audio, PHONE_RATE_HZ)
    return time.perf_counter() - started


def bench_prerender(voice_path: Path, settings: Settings, repeat: int = 3) -> dict[str, Any]:
    from callbot.conversation.spoken_answers import spoken_answers
    from callbot.kb.live import LiveKnowledgeBase
    from callbot.speech.answer_prerender import AnswerPrerender
    from callbot.speech.piper_voice import PiperVoiceModel, spoken_sentences
    from callbot.speech.prompt_cache import PromptCache

    voice = PiperVoiceModel.load(voice_path)
    kb = LiveKnowledgeBase(settings.knowledge_base_path)
    answers = spoken_answers(kb.current, datetime.now())  # which moment matters little here
    firsts = [spoken_sentences(texts[0])[0] for texts in answers.values()]
    with tempfile.TemporaryDirectory(prefix="callbot-prerender-") as cache_dir:
        cache = PromptCache(voice, Path(cache_dir))
        cold = [statistics.median(_first_chunk_sec(cache, voice, p) for _ in range(repeat))
                for p in firsts]
        prerender = AnswerPrerender(cache, lambda: answers, (PHONE_RATE_HZ,))
        started, cpu = time.perf_counter(), time.process_time()
        report = prerender.run_pass()[0]  # type: ignore[index]
        wall_sec, cpu_sec = time.perf_counter() - started, time.process_time() - cpu
        cached = [statistics.median(_first_chunk_sec(cache, voice, p) for _ in range(repeat))
                  for p in firsts]
        restarted = PromptCache(voice, Path(cache_dir))
        started = time.perf_counter()
        reread = restarted.render_answers([t for ts in answers.values() for t in ts],
                                          PHONE_RATE_HZ)
        reread_sec = time.perf_counter() - started
    words = sum(len(s.split()) for s in {s for ts in answers.values() for t in ts
                                         for s in spoken_sentences(t)})
    return {
        "prerender_topics": len(answers),
        "prerender_answers": len({t for texts in answers.values() for t in texts}),
        "prerender_sentences": report.sentences,
        "prerender_words": words,
        "prerender_failed": report.failed,
        "prerender_audio_sec": round(report.audio_sec, 1),
        "prerender_wall_sec": round(wall_sec, 1),
        "prerender_cpu_sec": round(cpu_sec, 1),
        "prerender_held_mb": round(cache.answer_bytes / 1e6, 1),
        "prerender_reread_sec": round(reread_sec, 2),
        "prerender_reread_synthesised": reread.rendered,
        "first_chunk_cold_ms_p50": round(statistics.median(cold) * 1000, 1),
        "first_chunk_cached_ms_p50": round(statistics.median(cached) * 1000, 3),
        "first_piece_words_p50": statistics.median(len(p.split()) for p in firsts),
    }


def main(argv: list[str] | None = None) -> int:
    from callbot.speech.install import ensure_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", help="Piper voice name or path (default: the configured one)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per answer (median)")
    args = parser.parse_args(argv)
    settings = Settings()
    voice_path = ensure_model(args.voice or settings.models.tts_voice, settings)
    figures = bench_prerender(voice_path, settings, args.repeat)
    for name, value in figures.items():
        print(f"{name}: {value}", file=sys.stderr)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
