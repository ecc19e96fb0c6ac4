"""The pipecat processor that puts the conversation policy in the call's pipeline.

Thin: unpacks transcripts, DTMF and VAD frames, asks ``Conversation`` (NLU + policy in a
worker thread), and pushes what the bot says to TTS, then a transfer or hang-up frame.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    InputDTMFFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    UserSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport

from callbot.conversation import prompts
from callbot.conversation.call_events import LineEventKind
from callbot.conversation.session import Conversation
from callbot.conversation.turn import BotTurn
from callbot.pipeline.frames import (
    HangupCallFrame,
    HeardAudioFrame,
    NothingRecognisedFrame,
    TransferCallFrame,
)
from callbot.pipeline.turn_taking import TurnTaking, TurnTakingParams
from callbot.store.message_audio import HeardAudio

TICK_SEC = 0.25


def component_name(processor: FrameProcessor | None) -> str:
    """What the call log calls the failed part: stt, tts, bridge, or the processor's name."""
    if isinstance(processor, STTService):
        return "stt"
    if isinstance(processor, TTSService):
        return "tts"
    if isinstance(processor, BaseInputTransport | BaseOutputTransport):
        return "bridge"
    return processor.name if processor is not None else "pipeline"


class ConversationProcessor(FrameProcessor):
    def __init__(self, conversation: Conversation, turn_params: TurnTakingParams,
                 transfer_target: str = "switchboard", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._conversation = conversation
        self._turns = TurnTaking(turn_params)
        self._transfer_target = transfer_target
        self._timer_task: asyncio.Task | None = None
        # one per VAD stop not yet answered by the recogniser (a transcript or nothing): on a
        # busy machine the next stop comes before the last one's transcript
        self._vad_stops: deque[float] = deque(maxlen=8)
        #: the last sentence's audio (``UtteranceAudio``: recording on), for its transcript
        self._heard: HeardAudio | None = None
        self._lock = asyncio.Lock()
        self.log = logger.bind(call_id=conversation.call_id)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._timer_task = self.create_task(self._timers(), "conversation-timers")
            await self._speak(self._conversation.start())
            return
        if isinstance(frame, EndFrame | CancelFrame):
            await self._stop_timers()
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._turns.bot_started()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._turns.bot_stopped(time.monotonic())
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._turns.user_started(time.monotonic())
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._turns.user_stopped(time.monotonic())
            self._vad_stops.append(time.monotonic())
        elif isinstance(frame, UserSpeakingFrame):
            await self._maybe_barge_in()
        elif isinstance(frame, TranscriptionFrame):
            await self._on_transcript(frame)
            return
        elif isinstance(frame, HeardAudioFrame):
            self._heard = HeardAudio(frame.pcm, frame.sample_rate)
            return
        elif isinstance(frame, NothingRecognisedFrame):
            self._next_vad_stop()
            self._heard = None
            self._turns.answered()  # noise, not words: no hold-on prompt for it
            return
        elif isinstance(frame, InputDTMFFrame):
            self._record(LineEventKind.DTMF, str(frame.button.value))
            await self._key_barge_in()
            await self._handle(self._conversation.dtmf, str(frame.button.value))
            return
        await self.push_frame(frame, direction)

    async def component_failed(self, frame: ErrorFrame) -> None:
        """Any processor's error (the worker hands them all here): transfer to a person."""
        component = component_name(frame.processor)
        self.log.error(f"{component} failed mid-call: {frame.error}")
        await self._handle(self._conversation.failure, component, str(frame.error))

    async def hand_over(self) -> None:
        """The process stops with this call still on: what the bot is saying is cut, then the
        transfer prompt, then a person."""
        if not self._conversation.ended:
            self.log.warning("still on after the drain: handing the call to a person")
            await self.broadcast_interruption()
            await self._handle(self._conversation.shutdown)

    def _record(self, kind: LineEventKind, detail: str = "") -> None:
        self._conversation.record(kind, detail)

    async def _maybe_barge_in(self) -> None:
        if self._conversation.ended:  # the last words (a transfer) must not be cut off
            return
        if self._turns.should_interrupt(time.monotonic()):
            self.log.debug("barge-in: the caller speaks over the bot")
            self._record(LineEventKind.BARGE_IN)
            await self.broadcast_interruption()

    async def _key_barge_in(self) -> None:
        """A key pressed while the bot speaks cuts its words, as speech over them does: the
        caller who presses 0 during a long answer is not kept waiting for its end (the
        transfer's words would queue behind it, and nothing cuts those)."""
        if self._turns.bot_speaking and not self._conversation.ended:
            self.log.debug("barge-in: a key pressed over the bot")
            await self.broadcast_interruption()

    async def _on_transcript(self, frame: TranscriptionFrame) -> None:
        vad_stop = self._next_vad_stop()
        text = frame.text.strip()
        if not text:
            return
        result = frame.result if isinstance(frame.result, dict) else {}
        confidence = result.get("confidence")
        latencies = {}
        if vad_stop is not None:
            latencies["stt_after_speech"] = round((time.monotonic() - vad_stop) * 1000, 1)
        self.log.info(f"caller: {text!r}")
        heard, self._heard = self._heard, None
        await self._handle(self._conversation.hear, text,
                           float(confidence) if confidence is not None else None, latencies,
                           heard, in_thread=True, vad_stop=vad_stop)

    def _next_vad_stop(self) -> float | None:
        """When the VAD ended the turn whose transcript (or lack of one) has just come."""
        return self._vad_stops.popleft() if self._vad_stops else None

    async def _handle(self, method, *args, in_thread: bool = False,  # noqa: ANN001
                      vad_stop: float | None = None) -> None:
        """Run one conversation step (``in_thread`` for NLU, which is CPU work), then speak."""
        if self._conversation.ended:
            return
        async with self._lock:
            turn = await asyncio.to_thread(method, *args) if in_thread else method(*args)
        await self._speak(turn, vad_stop)

    async def _speak(self, turn: BotTurn, vad_stop: float | None = None) -> None:
        """Push what the bot says to TTS, then the turn report (urgent: it overtakes the audio).

        ``vad_stop``: when the VAD said the caller stopped, for an answer to speech; the report
        then says how long ago that was (``after_vad_stop_ms``), so a client can split the
        turn's latency without sharing this process's clock.
        """
        if not (turn.says or turn.transfer or turn.hangup):
            return
        self._turns.answered()
        for say in turn.says:
            self.log.info(f"bot ({say.action}): {say.text!r}")
            await self.push_frame(TTSSpeakFrame(say.text))
        report = {**turn.to_json(), "latencies_ms": turn.latencies_ms}
        if vad_stop is not None:
            report["after_vad_stop_ms"] = round((time.monotonic() - vad_stop) * 1000, 1)
        await self.push_frame(OutputTransportMessageUrgentFrame(message=report))
        if turn.transfer:
            await self.push_frame(TransferCallFrame(message="transfer", reason=str(turn.transfer.reason),
                                                    target=self._transfer_target))
        elif turn.hangup:
            await self.push_frame(HangupCallFrame(message="hangup", reason=turn.hangup.reason))

    async def _timers(self) -> None:
        """Silence and call-length checks; cancelled with the pipeline."""
        while not self._conversation.ended:
            await asyncio.sleep(TICK_SEC)
            if self._turns.hold_on_due(time.monotonic()) and not self._conversation.ended:
                self.log.info("the answer is late: the caller is asked to hold on")
                await self.push_frame(TTSSpeakFrame(prompts.HOLD_ON))
            if self._turns.silence_expired(time.monotonic()):
                self._record(LineEventKind.SILENCE)
                await self._handle(self._conversation.silence)
            elif not self._lock.locked():  # a turn in progress: hold-on prompts must go on
                await self._handle(self._conversation.tick)

    async def _stop_timers(self) -> None:
        if self._timer_task is not None:
            await self.cancel_task(self._timer_task)
            self._timer_task = None
