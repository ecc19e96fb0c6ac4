"""``callbot serve`` and ``callbot call``: the voice path's commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from callbot.config import Settings


class _StepAction(argparse.Action):
    """Keeps --wav/--say/--dtmf/--wait in the order given on the command line."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        steps = getattr(namespace, "steps", None) or []
        steps.append((self.dest, values))
        namespace.steps = steps


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.serve import serve

    if args.web is not None:
        settings = settings.model_copy(update={"web": settings.web.model_copy(
            update={"enabled": args.web})})
    asyncio.run(serve(settings))
    return 0


def _synthesise(text: str, rate: int, settings: Settings, folder: Path, index: int) -> str:
    from callbot.call_client import write_wav
    from callbot.speech.models import resolve_model
    from callbot.speech.piper_voice import PiperVoiceModel

    voice = PiperVoiceModel.load(resolve_model(settings.models.tts_voice, settings))
    path = folder / f"say-{index}.wav"
    write_wav(path, voice.render(text, rate), rate)
    return str(path)


def cmd_call(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.call_client import Step, call_audiosocket, call_websocket, write_wav

    with tempfile.TemporaryDirectory() as folder:
        steps = []
        for index, (kind, value) in enumerate(getattr(args, "steps", None) or []):
            if kind == "say":
                steps.append(Step("wav", _synthesise(value, args.rate, settings, Path(folder), index)))
            else:
                steps.append(Step(kind, value))
        if args.audiosocket:
            host, _, port = args.audiosocket.rpartition(":")
            report = asyncio.run(call_audiosocket(host or "127.0.0.1", int(port), steps))
        else:
            url = args.url or (f"ws://{settings.voice.host}:{settings.voice.websocket_port}/call")
            report = asyncio.run(call_websocket(url, steps, args.rate, args.caller))
    print(f"greeting after {report.greeting_latency_ms} ms")
    for turn, latency in zip(report.turns, [None, *report.turn_latencies_ms], strict=False):
        timing = f" (+{latency:.0f} ms)" if latency is not None else ""
        if turn.get("caller"):
            print(f"caller> {turn['caller']}")
        print(f"bot>    {turn['bot']}  [{turn['action']}]{timing}")
    if args.out:
        write_wav(Path(args.out), bytes(report.bot_audio), args.rate)
        print(f"bot audio saved to {args.out}")
    print(json.dumps(report.to_dict(), ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="answer calls (SIP, chan_websocket, AudioSocket) and "
                           "serve the web app")
    serve.add_argument("--web", action=argparse.BooleanOptionalAction, default=None,
                       help="serve the dashboard, FAQ editor and browser phone too (default: "
                       "setting web.enabled, on)")
    serve.set_defaults(func=cmd_serve, log_level="INFO")

    call = sub.add_parser("call", help="place a test call to a running bot (scripted caller)")
    target = call.add_mutually_exclusive_group()
    target.add_argument("--url", help="generic WebSocket URL (default: the configured bridge)")
    target.add_argument("--audiosocket", metavar="HOST:PORT", help="call over AudioSocket")
    call.add_argument("--wav", action=_StepAction, help="play this WAV (mono 16-bit)")
    call.add_argument("--say", action=_StepAction, help="synthesise this line, then play it")
    call.add_argument("--dtmf", action=_StepAction, help="press this key")
    call.add_argument("--wait", action=_StepAction, help="wait this many seconds")
    call.add_argument("--rate", type=int, default=8000, choices=(8000, 16000),
                      help="sample rate of the call's audio, Hz (default 8000)")
    call.add_argument("--caller", help="caller number to announce (pseudonymised in logs)")
    call.add_argument("--out", help="save the bot's audio to this WAV file")
    call.set_defaults(func=cmd_call)
