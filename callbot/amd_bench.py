"""``callbot bench amd``: answering-machine detection on French greetings we make ourselves.

People: short pick-ups (« allô ? », « oui allô », « allô oui bonjour »…) and a few longer ones,
said by espeak-ng with mbrola's fr1 voice at several speeds and pitches, after 0.2–1.0 s of
silence (picking up), then silence (waiting for us) and, for some, « allô ? » again.
Machines: voicemail greetings (« Bonjour, vous êtes bien sur le répondeur de… ») by the same
voice, each followed by a beep, and Asterisk's French recordings (``/usr/share/asterisk/
sounds/fr*``, another voice, a real recording) of 3–12 s as stand-ins for recorded greetings.
Every sample goes through G.711 µ-law and, at 20 ms a chunk, through the call's Silero VAD
(``callbot.speech.amd_vad``) into the detector. Audio time, so the machine's load does not
change the figures (only how long the bench takes).

Final JSON line: accuracy, false_machine_rate (people taken for machines: the worse error),
missed_machine_rate, decision time medians, per-source counts.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from callbot.bridge import g711
from callbot.speech.answering_machine import (
    AmdDecision,
    AmdParams,
    AmdVerdict,
    AnsweringMachineDetector,
)
from callbot.speech.audio import chunks, float_to_pcm16, read_wav, resample_pcm16, silence, write_wav

if TYPE_CHECKING:
    from pipecat.audio.vad.vad_analyzer import VADParams

    from callbot.config import Settings

RATE_HZ = 8000
CHUNK_MS = 20
ESPEAK_VOICE = "mb-fr1"
SPEEDS_WPM = (130, 160, 190)
PITCHES = (30, 50, 75)
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
MACHINE_PROMPT_SEC = (3.0, 12.0)
#: How long after a greeting each sample goes on (a person waits; a machine's beep, then quiet).
TAIL_SEC = 4.0
CACHE_DIR = Path.home() / ".cache" / "callbot" / "amd"

HUMAN_SAYINGS = (
    "Allô ?", "Oui allô ?", "Allô oui bonjour.", "Oui ?", "Allô, j'écoute.", "Bonjour.",
    "Oui, bonjour.", "Allô, oui ?", "Allô ? Qui est à l'appareil ?",
    "Oui allô, c'est Madame Martin.",
    # people who talk on: the hard side of the set
    "Allô oui bonjour, c'est Madame Martin, qui est à l'appareil s'il vous plaît ?",
    "Oui, allô ? Je vous entends très mal, vous pouvez répéter ?",
)
MACHINE_SAYINGS = (
    "Bonjour, vous êtes bien sur le répondeur de Marie Dupont. Je ne suis pas disponible pour "
    "le moment, laissez-moi un message après le bip.",
    "Bonjour, vous êtes sur la messagerie de Jean. Laissez un message, je vous rappelle.",
    "Votre correspondant n'est pas disponible pour le moment. Veuillez laisser un message "
    "après le signal sonore.",
    "Bonjour, vous êtes bien au zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit. "
    "Laissez un message après le bip.",
    "Vous êtes bien chez Paul et Sophie, nous sommes absents, laissez-nous un message.",
    "Bonjour, c'est Lucie. Je ne peux pas répondre, rappelez plus tard ou laissez un message.",
    "Le numéro que vous avez demandé n'est pas joignable, laissez un message après le bip.",
    "Bonjour, cabinet du docteur Bernard. Le cabinet est fermé, merci de rappeler demain.",
    # short greetings: the hard side of the set
    "Laissez un message.",
    "Bonjour, c'est Marc, laissez un message.",
)


@dataclass(frozen=True)
class Sample:
    name: str
    source: str  # espeak-human, espeak-machine, asterisk-machine
    machine: bool
    pcm: bytes  # 8 kHz PCM16, as heard after G.711


def _espeak(text: str, speed: int, pitch: int) -> bytes:
    """``text`` by mbrola fr1 at 8 kHz, cached on disk (the set is the same on every run)."""
    digest = hashlib.sha1(f"{text}|{speed}|{pitch}".encode()).hexdigest()[:16]
    path = CACHE_DIR / f"{digest}.wav"
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            subprocess.run(["espeak-ng", "-v", ESPEAK_VOICE, "-s", str(speed), "-p", str(pitch),
                            "-w", str(raw), text], check=True, capture_output=True)
            audio, rate = read_wav(raw)
        write_wav(path, resample_pcm16(audio, rate, RATE_HZ), RATE_HZ)
    return read_wav(path)[0]


def _beep(seconds: float = 0.4, frequency_hz: float = 1000.0) -> bytes:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return float_to_pcm16(0.3 * np.sin(2 * np.pi * frequency_hz * t))


def _on_the_line(pcm: bytes, rng: random.Random) -> bytes:
    """Through G.711 µ-law, with a little line noise (about -60 dBFS)."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    noisy = samples + np.random.default_rng(rng.getrandbits(32)).normal(0, 30, samples.size)
    line = np.clip(noisy, -32768, 32767).astype(np.int16).tobytes()
    return g711.decode(g711.encode(line, "ulaw"), "ulaw")


def asterisk_prompts() -> list[Path]:
    """Asterisk's French recordings of 3–12 s (``fr*``), sorted: recorded-message stand-ins."""
    found = []
    for folder in sorted(ASTERISK_SOUNDS.glob("fr*")):
        for path in sorted(folder.glob("*.wav")):
            with wave.open(str(path)) as wav:
                length = wav.getnframes() / wav.getframerate()
            if MACHINE_PROMPT_SEC[0] <= length <= MACHINE_PROMPT_SEC[1]:
                found.append(path)
    return found


def build_samples(seed: int = 16, max_prompts: int = 60) -> list[Sample]:
    """The whole set, the same for a given seed."""
    rng = random.Random(seed)
    samples = []
    voices = [(speed, pitch) for speed in SPEEDS_WPM for pitch in PITCHES]
    for number, text in enumerate(HUMAN_SAYINGS):
        for speed, pitch in voices:
            pcm = silence(rng.uniform(0.2, 1.0), RATE_HZ) + _espeak(text, speed, pitch)
            if rng.random() < 0.3:  # nobody answered them: « allô ? » again
                pcm += silence(rng.uniform(1.2, 2.0), RATE_HZ) + _espeak("Allô ?", speed, pitch)
            pcm += silence(TAIL_SEC, RATE_HZ)
            samples.append(Sample(f"human{number}-s{speed}-p{pitch}", "espeak-human", False,
                                  _on_the_line(pcm, rng)))
    for number, text in enumerate(MACHINE_SAYINGS):
        for speed, pitch in voices:
            pcm = (silence(rng.uniform(0.1, 0.6), RATE_HZ) + _espeak(text, speed, pitch)
                   + silence(0.3, RATE_HZ) + _beep() + silence(TAIL_SEC, RATE_HZ))
            samples.append(Sample(f"machine{number}-s{speed}-p{pitch}", "espeak-machine", True,
                                  _on_the_line(pcm, rng)))
    prompts = asterisk_prompts()
    step = max(1, len(prompts) // max_prompts) if prompts else 1
    for path in prompts[::step][:max_prompts]:
        audio, rate = read_wav(path)
        pcm = (silence(rng.uniform(0.1, 0.6), RATE_HZ) + resample_pcm16(audio, rate, RATE_HZ)
               + silence(TAIL_SEC, RATE_HZ))
        samples.append(Sample(f"asterisk-{path.stem}", "asterisk-machine", True,
                              _on_the_line(pcm, rng)))
    return samples


async def classify(sample: Sample, session: Any, params: AmdParams, vad: VADParams) -> AmdDecision:  # noqa: ANN401
    """The detector's decision on one sample, fed as a call feeds it."""
    from callbot.speech.amd_vad import feed_audio
    from callbot.speech.silero_vad import SharedSileroVADAnalyzer

    analyzer = SharedSileroVADAnalyzer(session, sample_rate=RATE_HZ, params=vad)
    analyzer.set_sample_rate(RATE_HZ)
    detector = AnsweringMachineDetector(params)
    for chunk in chunks(sample.pcm, RATE_HZ, CHUNK_MS):
        if await feed_audio(detector, analyzer, chunk, RATE_HZ) != AmdVerdict.UNDECIDED:
            break
    return detector.expire()


def figures(samples: list[Sample], decisions: list[AmdDecision]) -> dict[str, Any]:
    """Accuracy and error rates of ``decisions`` (one per sample, in order)."""
    pairs = list(zip(samples, decisions, strict=True))
    humans = [d for s, d in pairs if not s.machine]
    machines = [d for s, d in pairs if s.machine]
    right = sum(1 for s, d in pairs if d.machine == s.machine)
    by_source: dict[str, dict[str, int]] = {}
    for s, d in pairs:
        row = by_source.setdefault(s.source, {"samples": 0, "right": 0})
        row["samples"] += 1
        row["right"] += d.machine == s.machine

    def median_ms(decided: list[AmdDecision]) -> float | None:
        return round(statistics.median(d.after_sec for d in decided) * 1000) if decided else None

    reasons: dict[str, int] = {}
    for d in decisions:
        reasons[d.reason] = reasons.get(d.reason, 0) + 1
    return {
        "samples": len(pairs), "humans": len(humans), "machines": len(machines),
        "accuracy": round(right / len(pairs), 4) if pairs else None,
        "false_machine_rate": round(sum(d.machine for d in humans) / len(humans), 4) if humans else None,
        "missed_machine_rate": (round(sum(not d.machine for d in machines) / len(machines), 4)
                                if machines else None),
        "decision_ms_median": median_ms(decisions),
        "decision_ms_median_human": median_ms(humans),
        "decision_ms_median_machine": median_ms(machines),
        "by_source": by_source, "reasons": reasons,
        "wrong": [s.name for s, d in pairs if d.machine != s.machine],
    }


async def bench_amd(params: AmdParams, vad_stop_sec: float = 0.25) -> dict[str, Any]:
    from pipecat.audio.vad.vad_analyzer import VADParams

    from callbot.speech.silero_vad import load_silero_session

    samples = await asyncio.to_thread(build_samples)
    session = load_silero_session()
    vad = VADParams(stop_secs=vad_stop_sec)
    decisions = [await classify(sample, session, params, vad) for sample in samples]
    return {**figures(samples, decisions), "params": asdict(params), "vad_stop_sec": vad_stop_sec}


def cmd_bench_amd(args: argparse.Namespace, settings: Settings) -> int:
    if shutil.which("espeak-ng") is None or not Path("/usr/share/mbrola/fr1").exists():
        print("callbot bench amd needs espeak-ng and mbrola-fr1 "
              "(apt-get install espeak-ng mbrola mbrola-fr1)", file=sys.stderr)
        return 2
    params = AmdParams(**{name: value for name, value in vars(args).items()
                          if name in AmdParams.__dataclass_fields__ and value is not None})
    result = asyncio.run(bench_amd(params, settings.voice.vad_stop_sec))
    if not args.show_wrong:
        result.pop("wrong")
    print(json.dumps(result, ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    amd = bench.add_parser("amd", help="answering-machine detection: accuracy on French greetings")
    for name in AmdParams.__dataclass_fields__:
        amd.add_argument(f"--{name.replace('_', '-')}", type=float, default=None,
                         help=f"detector threshold {name} (default {getattr(AmdParams(), name)})")
    amd.add_argument("--show-wrong", action="store_true", help="list the samples decided wrong")
    amd.set_defaults(func=cmd_bench_amd)
