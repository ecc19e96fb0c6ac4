"""``callbot bench vad``: what the VAD stop window costs and what it buys, in audio time.

For each ``stop_secs``: how long after the caller's last loud sample the VAD says "stopped"
(the end-of-turn part of every turn's latency), on the French clips; and the longest pause
inside a sentence it still holds (two clips joined by a pause of silence: a longer pause ends
the turn there, and the bot answers half a sentence). Audio time, not wall time: the machine's
load does not change these figures. Silero runs on 32 ms windows at 8 kHz, so windows that
differ by less than that behave the same.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from callbot.call_client import read_wav
from callbot.config import Settings
from callbot.turn_timing import Chunk
from callbot.voice_bench import CLIPS

RATE_HZ = 8000
FRAME_BYTES = 320  # 20 ms, as callers send it
PAUSES_MS = range(200, 501, 25)


async def _stops(session: Any, pcm: bytes, stop_secs: float) -> list[float]:  # noqa: ANN401
    """Seconds into ``pcm`` at which the VAD said the speaker stopped."""
    from pipecat.audio.vad.vad_analyzer import VADParams, VADState

    from callbot.speech.silero_vad import SharedSileroVADAnalyzer

    vad = SharedSileroVADAnalyzer(session, sample_rate=RATE_HZ, params=VADParams(stop_secs=stop_secs))
    vad.set_sample_rate(RATE_HZ)
    state, stops = VADState.QUIET, []
    for offset in range(0, len(pcm), FRAME_BYTES):
        new = await vad.analyze_audio(pcm[offset:offset + FRAME_BYTES])
        if state == VADState.STOPPING and new == VADState.QUIET:
            stops.append((offset + FRAME_BYTES) / 2 / RATE_HZ)
        state = new
    return stops


def _speech(pcm: bytes) -> tuple[int, int]:
    """Sample offsets of the first loud sample and just after the last one."""
    chunk = Chunk.of(0.0, pcm)
    return chunk.loud_first or 0, (chunk.loud_last or 0) + 1


async def _stop_delay_ms(session: Any, clip: Path, stop_secs: float) -> float | None:  # noqa: ANN401
    pcm = read_wav(clip, RATE_HZ)
    end = _speech(pcm)[1] / RATE_HZ
    stops = [t for t in await _stops(session, pcm + bytes(RATE_HZ * 2), stop_secs) if t >= end]
    return round((stops[0] - end) * 1000) if stops else None


async def _longest_pause_held_ms(session: Any, stop_secs: float) -> int:  # noqa: ANN401
    """The longest silence between two phrases that does not end the turn."""
    first, second = (read_wav(CLIPS / f"{name}.wav", RATE_HZ) for name in ("fr_poubelles",
                                                                         "fr_personne"))
    first, second = (pcm[_speech(pcm)[0] * 2:_speech(pcm)[1] * 2] for pcm in (first, second))
    held = 0
    for pause_ms in PAUSES_MS:
        pcm = bytes(1600) + first + bytes(pause_ms * RATE_HZ // 1000 * 2) + second
        if len(await _stops(session, pcm + bytes(RATE_HZ * 2), stop_secs)) > 1:
            break
        held = pause_ms
    return held


async def _sweep(windows: list[float]) -> dict[str, Any]:
    from callbot.speech.silero_vad import load_silero_session

    session = load_silero_session()
    clips = sorted(CLIPS.glob("fr_*.wav"))
    rows = []
    for stop_secs in windows:
        delays = {c.stem: await _stop_delay_ms(session, c, stop_secs) for c in clips}
        rows.append({"stop_secs": stop_secs, "vad_stop_after_speech_ms": delays,
                     "longest_pause_held_ms": await _longest_pause_held_ms(session, stop_secs)})
    return {"pauses_tried_ms": [PAUSES_MS.start, PAUSES_MS.stop - 1, PAUSES_MS.step],
            "windows": rows}


def cmd_bench_vad(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(asyncio.run(_sweep(args.stop_secs))))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    vad = bench.add_parser("vad", help="VAD stop window: end-of-turn delay vs pauses held")
    vad.add_argument("--stop-secs", type=float, nargs="+", default=[0.15, 0.2, 0.25, 0.3, 0.35])
    vad.set_defaults(func=cmd_bench_vad)
