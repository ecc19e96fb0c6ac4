"""``callbot serve``: load everything once, open the configured listeners, stop gracefully.

Logs the address of each listener. On SIGTERM/SIGINT it stops taking calls and lets the
calls in progress finish (up to ``voice.drain_timeout_sec``); those still on then go to a
person (``callbot/pipeline/drain.py``).
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from loguru import logger
from pipecat.audio.vad.vad_analyzer import VADParams
from sqlalchemy.engine import make_url

from callbot import faults
from callbot.brain import Brain
from callbot.bridge.audiosocket_server import AudioSocketServer
from callbot.bridge.limits import BridgeLimits
from callbot.bridge.websocket_server import add_bridge_routes
from callbot.config import DeadlineSettings, Settings
from callbot.conversation.prompts import fixed_prompts
from callbot.pipeline.call import VoiceStack
from callbot.pipeline.drain import drain_calls
from callbot.pipeline.turn_taking import TurnTakingParams
from callbot.sip.endpoint import SipEndpoint
from callbot.speech.registry import ModelError
from callbot.store.accounts import FIRST_ADMIN
from callbot.store.calllog import CallLogWriter

if TYPE_CHECKING:
    from callbot.speech.answer_prerender import AnswerPrerender

#: A call open this long past the call time limit belongs to a process that died.
STALE_MARGIN_SEC = 300.0
#: Prompts are rendered once at start-up at the telephone rate.
CALL_RATES_HZ = (8000,)  # 16 kHz calls synthesise their prompts on the fly


def build_voice_stack(settings: Settings, brain: Brain) -> VoiceStack:
    """Load the recogniser model and the voice once, downloading them on a first run.

    Offline, raises ``ModelError`` whose message says which file to put where.
    """
    from callbot.speech.install import ensure_model
    from callbot.speech.piper_tts import PiperTTSService
    from callbot.speech.piper_voice import PiperVoiceModel, spoken_sentences
    from callbot.speech.prompt_cache import PromptCache

    started = time.perf_counter()
    voice = PiperVoiceModel.load(ensure_model(settings.models.tts_voice, settings))
    # On disk, so a restart skips the render; the greeting first, it is needed soonest.
    cache = PromptCache(voice, cache_dir=settings.models.models_dir.parent / "prompts")
    prompts = fixed_prompts(brain.kb.current.town)
    for rate in CALL_RATES_HZ:
        cache.render(prompts[:1], rate)
        cache.render(prompts[1:], rate)
    voice_settings = settings.voice
    if voice_settings.stt_engine == "whisper":
        from callbot.speech.whisper_stt import LocalWhisperSTTService, load_whisper_model

        whisper_dir = ensure_model(settings.models.whisper_model, settings)
        load_whisper_model(whisper_dir)  # now, not during the first call's greeting

        def make_stt(rate: int) -> LocalWhisperSTTService:
            return LocalWhisperSTTService(model_dir=whisper_dir,
                                          hang_after_sec=settings.deadlines.stt_final_sec)
    else:
        from callbot.speech.vosk_model import VoskModel
        from callbot.speech.vosk_stt import VoskSTTParams, VoskSTTService

        vosk_model = VoskModel.load(ensure_model(settings.models.stt_model, settings))

        def make_stt(rate: int) -> VoskSTTService:
            return VoskSTTService(model=vosk_model, params=VoskSTTParams(
                hang_after_sec=settings.deadlines.stt_final_sec))

    logger.info(f"speech models ready in {time.perf_counter() - started:.1f} s "
                f"({len(cache)} cached prompts)")
    return VoiceStack(
        brain=brain,
        make_stt=make_stt,
        make_tts=lambda rate: PiperTTSService(
            voice=voice, cache=cache,
            first_audio_timeout_sec=settings.deadlines.tts_first_audio_sec,
            timeout_sec_per_char=settings.deadlines.tts_sec_per_char),
        vad=VADParams(stop_secs=voice_settings.vad_stop_sec),
        # only Vosk streams: Whisper decodes a whole segment after the VAD stop anyway
        caller_pause_sec=voice_settings.caller_pause_sec if voice_settings.stt_engine == "vosk"
        else 0.0,
        turn_taking=TurnTakingParams(barge_in_min_sec=voice_settings.barge_in_min_sec,
                                     silence_timeout_sec=voice_settings.silence_timeout_sec),
        transfer_target=voice_settings.transfer_target,
        deadlines=stage_deadlines(settings),
        render_speech=lambda text, rate: b"".join(
            cache.get(s, rate) or voice.render(s, rate) for s in spoken_sentences(text)),
        prompt_cache=cache,
    )


def start_answer_prerender(settings: Settings, brain: Brain,
                           stack: VoiceStack) -> AnswerPrerender | None:
    """Knowledge-base answers rendered in the background, once calls are taken (``voice.
    prerender_answers``), synthesising only while no call is on; not with injected faults,
    whose answers must reach Piper."""
    if not settings.voice.prerender_answers or stack.prompt_cache is None or faults.injected():
        return None
    from callbot.conversation.spoken_answers import spoken_answers
    from callbot.speech.answer_prerender import AnswerPrerender

    clock = brain.local_clock()
    return AnswerPrerender(stack.prompt_cache, lambda: spoken_answers(brain.kb.refresh(), clock()),
                           CALL_RATES_HZ, busy=lambda: stack.active_calls > 0).start()


def stage_deadlines(settings: Settings) -> DeadlineSettings:
    """The configured deadlines; with a Rasa server the NLU's also covers Rasa's own timeout
    (after which the embedded NLU answers)."""
    deadlines = settings.deadlines
    if settings.nlu.backend == "rasa":
        nlu_sec = deadlines.nlu_sec + settings.nlu.rasa_timeout_sec
        deadlines = deadlines.model_copy(update={"nlu_sec": nlu_sec})
    return deadlines


@dataclass
class Listeners:
    """What ``start_listeners`` opened, to be closed in reverse order."""

    web_runner: web.AppRunner
    audiosocket: AudioSocketServer | None
    websocket_port: int
    audiosocket_port: int | None
    sip: SipEndpoint | None = None
    sip_port: int | None = None

    async def close(self) -> None:
        if self.sip is not None:
            await self.sip.stop()
        if self.audiosocket is not None:
            await self.audiosocket.stop()
        await self.web_runner.cleanup()


async def start_listeners(settings: Settings, stack: VoiceStack) -> Listeners:
    # The models are loaded: a full collection during calls no longer walks their objects
    # (measured: such collections stalled every call's RTP for up to 1 s with 20 SIP calls).
    gc.collect()
    gc.freeze()
    voice = settings.voice
    app = web.Application()
    limits = BridgeLimits.from_settings(voice)
    add_bridge_routes(app, stack, voice.max_calls, limits)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, voice.host, voice.websocket_port)
    await site.start()
    ws_port = runner.addresses[0][1]
    logger.info(f"WebSocket bridge: ws://{voice.host}:{ws_port}/asterisk (Asterisk chan_websocket) "
                f"and ws://{voice.host}:{ws_port}/call (generic protocol)")
    audiosocket, as_port = None, None
    if voice.audiosocket_port:
        audiosocket = AudioSocketServer(stack, voice.max_calls, limits)
        as_port = await audiosocket.start(voice.host, voice.audiosocket_port)
        logger.info(f"AudioSocket server: tcp://{voice.host}:{as_port}")
    sip, sip_port = None, None
    if settings.sip.enabled:
        sip = SipEndpoint(settings, stack)
        sip_port = await sip.start()
        logger.info(f"SIP endpoint: sip:callbot@{settings.sip.host}:{sip_port} (UDP)")
    return Listeners(runner, audiosocket, ws_port, as_port, sip, sip_port)


def start_call_log(settings: Settings, brain: Brain) -> CallLogWriter:
    """One writer for the process; it also closes the calls a dead process left open."""
    stale_after_sec = settings.policy.call_time_limit_sec + STALE_MARGIN_SEC
    writer = CallLogWriter(settings.store, recover=True, clock=brain.local_clock(),
                           stale_after_sec=stale_after_sec).start()
    where = make_url(settings.store.database_url).render_as_string(hide_password=True)
    logger.info(f"call log: {where} (this process is {writer.node})")
    return writer


async def _start_web(settings: Settings, brain: Brain, stack: VoiceStack | None,
                     call_log: CallLogWriter, voice_missing: str) -> web.AppRunner:
    """The dashboard, FAQ editor and « Essayer le robot » in this process (``web.enabled``):
    the page's calls use this process's brain, pipeline and call log."""
    from callbot.web.app import init_app, start_web
    from callbot.web.phone import PhoneLine, add_voice

    line = PhoneLine(load_brain=lambda: brain, sinks=[call_log], voice_missing=voice_missing)
    app = init_app(settings, phone_line=line)
    if stack is not None:
        add_voice(app, stack, settings.voice.max_calls, BridgeLimits.from_settings(settings.voice))
    password = await _first_admin(settings)
    runner = await start_web(settings, app)
    host, port = runner.addresses[0][:2]
    if password is not None:
        print(f"\nFirst run: log in at http://{host}:{port}/login as {FIRST_ADMIN!r} with the "
              f"one-time password {password}\n(you choose your own at the first login). "
              f"Talk to the bot at http://{host}:{port}/phone\n", file=sys.stderr, flush=True)
    return runner


async def _first_admin(settings: Settings) -> str | None:
    """A store without accounts gets an admin whose one-time password is printed once."""
    from callbot.store.accounts import create_first_admin
    from callbot.store.database import engine_from_settings, migrate

    engine = engine_from_settings(settings.store)
    try:
        await migrate(engine, settings.store.schema_name)
        return await create_first_admin(engine)
    finally:
        await engine.dispose()


async def _voice_stack(settings: Settings, brain: Brain) -> tuple[VoiceStack | None, str]:
    """The speech models, or — with the web app on — none and why, so the web app and the
    text conversation still come up (offline, first run) and the log says what to put where."""
    try:
        return await asyncio.to_thread(build_voice_stack, settings, brain), ""
    except ModelError as exc:
        if not settings.web.enabled:
            raise
        logger.warning(f"no phone calls until the speech models are in place: {exc}")
        return None, "les modèles de parole manquent (voir le journal de `callbot serve`)"


async def serve(settings: Settings) -> None:
    brain = Brain.load(settings)
    stack, voice_missing = await _voice_stack(settings, brain)
    call_log = start_call_log(settings, brain)
    listeners, prerender = None, None
    if stack is not None:
        stack.sinks.append(call_log)
        listeners = await start_listeners(settings, stack)
        prerender = start_answer_prerender(settings, brain, stack)
    web_ui = (await _start_web(settings, brain, stack, call_log, voice_missing)
              if settings.web.enabled else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if stack is not None:
        logger.info("callbot is answering calls; Ctrl-C or SIGTERM stops it")
    else:
        logger.warning("callbot serves the web app and the text conversation only (no speech "
                       "models); Ctrl-C or SIGTERM stops it")
    await stop.wait()
    if stack is not None:
        logger.info(f"stopping: no new calls; waiting for {stack.active_calls} call(s) in "
                    "progress")
        stack.accepting = False
        if prerender is not None:
            await asyncio.to_thread(prerender.stop)
        await drain_calls(stack, settings.voice.drain_timeout_sec)
    if listeners is not None:
        await listeners.close()
    if web_ui is not None:
        await web_ui.cleanup()
    await asyncio.to_thread(call_log.close)  # what is queued reaches the database or the spool
    logger.info(f"call log closed ({call_log.written} records written this run)")
