"""Run one call: build its pipecat pipeline around a bridge connection and drive it to the end.

input → Silero VAD → speech recognition → conversation → Piper → output. Models are shared
(``VoiceStack`` holds what is loaded once per process); a call costs a recogniser, a VAD
state, a pipeline and a few buffers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loguru import logger
from onnxruntime import InferenceSession
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import ErrorFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_transport import TransportParams
from pipecat.workers.runner import WorkerRunner

from callbot.brain import Brain
from callbot.bridge.transport import (
    PLAYS_AS_RECEIVED,
    BridgeConnection,
    BridgeTransport,
    Pacing,
)
from callbot.config import DeadlineSettings
from callbot.conversation.call_events import CallEventSink, CallOutcome, LineEventKind
from callbot.conversation.session import Conversation
from callbot.hangs import deadline_runner
from callbot.pipeline.conversation_processor import ConversationProcessor
from callbot.pipeline.pause_detection import PauseAwareVADProcessor
from callbot.pipeline.turn_taking import TurnTakingParams
from callbot.pipeline.utterance_audio import UtteranceAudio
from callbot.speech.silero_vad import SharedSileroVADAnalyzer, load_silero_session
from callbot.store.message_audio import keeps_audio

if TYPE_CHECKING:
    from callbot.speech.prompt_cache import PromptCache

#: Audio the bot may still send after its last words before the line is dropped.
END_GRACE_SEC = 0.3
#: After a failed send, how long a hang-up from the peer may take to arrive (then it is no error).
BRIDGE_SETTLE_SEC = 0.2


@dataclass
class VoiceStack:
    """Everything loaded once per process and shared by every call."""

    brain: Brain
    make_stt: Callable[[int], STTService]  # sample rate → a recogniser for one call
    make_tts: Callable[[int], TTSService]  # sample rate → a synthesiser for one call
    vad: VADParams = field(default_factory=lambda: VADParams(stop_secs=0.25))
    vad_session: InferenceSession = field(default_factory=load_silero_session)  # Silero, shared
    caller_pause_sec: float = 0.1  # a pause that closes the recogniser's utterance early
    turn_taking: TurnTakingParams = field(default_factory=TurnTakingParams)
    sinks: list[CallEventSink] = field(default_factory=list)
    transfer_target: str = "switchboard"
    #: (text, sample rate) → PCM16, blocking; for words said outside a pipeline (SIP transfer failed)
    render_speech: Callable[[str, int], bytes] | None = None
    #: the fixed prompts and the pre-rendered answers (``callbot serve``)
    prompt_cache: PromptCache | None = None
    active_calls: int = 0
    admitting: int = 0  # connections let in, still in their handshake: they hold a slot too
    accepting: bool = True  # false while shutting down: new calls are refused
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    #: per-stage deadlines: a stage that hangs past one fails like a crash (callbot/hangs.py)
    deadlines: DeadlineSettings = field(default_factory=DeadlineSettings)
    #: the calls in progress: the shutdown hands those left at the drain's end to a person
    calls: set[ConversationProcessor] = field(default_factory=set)

    def can_take_call(self, max_calls: int) -> bool:
        return self.accepting and self.active_calls + self.admitting < max_calls

    def call_started(self) -> None:
        self.active_calls += 1
        self.idle.clear()

    def call_ended(self) -> None:
        self.active_calls -= 1
        if self.active_calls == 0:
            self.idle.set()


@dataclass
class CallInfo:
    call_id: str
    channel: str
    sample_rate: int
    caller_id: str | None = None
    pacing: Pacing = PLAYS_AS_RECEIVED  # how the bot's audio goes to this peer


def admit_call(stack: VoiceStack, info: CallInfo) -> Conversation:
    """The call's conversation, its record already opened: from here on the call is in the
    log, however early the caller hangs up (issue 7)."""
    conversation = stack.brain.conversation()
    conversation.call_id, conversation.channel = info.call_id, info.channel
    conversation.caller_id = info.caller_id
    conversation.run_stage = deadline_runner(stack.deadlines)
    conversation.sinks.extend(stack.sinks)
    conversation.open()
    return conversation


def log_early_hangup(stack: VoiceStack, info: CallInfo, detail: str) -> Conversation:
    """An admitted call whose caller hung up before its pipeline ran: logged, closed abandoned."""
    logger.bind(call_id=info.call_id).info(f"call ended by the caller before it began ({detail})")
    conversation = admit_call(stack, info)
    conversation.close(CallOutcome.ABANDONED, detail=detail)
    return conversation


async def run_call(stack: VoiceStack, connection: BridgeConnection, serializer: FrameSerializer,
                   info: CallInfo) -> Conversation:
    """Run the call until either side ends it; returns the conversation (for its outcome)."""
    conversation = admit_call(stack, info)
    log = logger.bind(call_id=info.call_id)
    finished = asyncio.Event()
    worker: PipelineWorker | None = None

    async def on_end(who: str, reason: str) -> None:
        if who == "bridge":  # a send failed; a hang-up arriving meanwhile tells it better
            await asyncio.sleep(BRIDGE_SETTLE_SEC)
        if finished.is_set():
            return
        finished.set()
        log.info(f"call ended by the {who} ({reason})")
        if who == "caller":
            conversation.close(CallOutcome.ABANDONED, detail=reason)
        elif who == "bridge":  # the line broke: nobody is left to hear a prompt
            conversation.record(LineEventKind.ERROR, f"bridge: {reason}")
            conversation.close(CallOutcome.ERROR, detail=f"bridge: {reason}")
        else:
            await asyncio.sleep(END_GRACE_SEC)
        await connection.close()
        if worker is not None:
            await worker.cancel(reason=reason)

    try:  # a part that cannot be built for this call (e.g. no recognizer) still closes it
        rate = info.sample_rate
        params = TransportParams(audio_in_enabled=True, audio_out_enabled=True,
                                 audio_in_sample_rate=rate, audio_out_sample_rate=rate,
                                 audio_out_10ms_chunks=info.pacing.frame_ms // 10)
        transport = BridgeTransport(connection, serializer, params, on_end, info.pacing)
        brain_step = ConversationProcessor(conversation, stack.turn_taking, stack.transfer_target)
        # the caller's sentences as audio, for a message's, only when the town keeps them
        heard = [UtteranceAudio()] if keeps_audio(stack.brain.settings.store) else []
        pipeline = Pipeline([
            transport.input(),
            PauseAwareVADProcessor(
                vad_analyzer=SharedSileroVADAnalyzer(stack.vad_session, sample_rate=rate,
                                                     params=stack.vad),
                pause_sec=stack.caller_pause_sec),
            *heard,
            stack.make_stt(rate),
            brain_step,
            stack.make_tts(rate),
            transport.output(),
        ])
        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(audio_in_sample_rate=rate, audio_out_sample_rate=rate),
            idle_timeout_secs=None,
            enable_rtvi=False,
            check_dangling_tasks=False,
            conversation_id=info.call_id,
        )

        @worker.event_handler("on_pipeline_error")
        async def on_pipeline_error(_worker: PipelineWorker, frame: ErrorFrame) -> None:
            await brain_step.component_failed(frame)  # any part fails: the caller gets a person

    except Exception as exc:
        log.opt(exception=exc).error("the call's pipeline could not be built")
        conversation.close(CallOutcome.ERROR, detail=f"pipeline: {type(exc).__name__}")
        await connection.close()
        return conversation
    stack.call_started()
    stack.calls.add(brain_step)
    log.info(f"call started on {info.channel} at {rate} Hz")
    try:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()
    except Exception as exc:
        log.opt(exception=exc).error("the call's pipeline failed")
        conversation.close(CallOutcome.ERROR, detail=type(exc).__name__)
    finally:
        stack.calls.discard(brain_step)
        stack.call_ended()
        output = transport.output()
        log.info(f"call audio: {output.frames_sent} frames sent, {output.late_frames} late")
        if conversation.outcome is None:
            conversation.close(CallOutcome.ABANDONED, detail="pipeline_ended")
        await connection.close()
    return conversation
