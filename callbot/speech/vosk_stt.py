"""Vosk as a streaming pipecat STT service: interim results while the caller speaks, one final
transcript with word confidences when the VAD says the caller stopped.

The decoding is streaming, so when speech stops only ``FinalResult`` is left to do (tens of
milliseconds), instead of a whole-segment decode. Audio is fed at the call's own rate (8 kHz
on the phone), in batches of ``batch_ms`` to limit thread hops; all decoding runs on the
process's decoder threads (``callbot.speech.decoder_pool``).

End of turn in pipecat 1.14: the user aggregator (or a ``VADProcessor``) runs the VAD and
broadcasts ``VADUserStartedSpeakingFrame`` / ``VADUserStoppedSpeakingFrame`` both ways, so this
service sees them whether the VAD sits before it or after it. The final ``TranscriptionFrame``
is marked ``finalized``, which lets the turn-stop strategies end the turn without waiting.

A ``CallerPausedFrame`` (``callbot/pipeline/pause_detection.py``) closes the utterance while
the VAD is still deciding whether the turn is over: the audio after the pause is held back,
and the turn's end then costs no decoding at all. If the caller speaks again, the held audio
is decoded as the start of the next utterance of the same turn.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

import vosk
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import STTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from callbot import faults
from callbot.hangs import StageTimeout
from callbot.pipeline.frames import CallerPausedFrame, CallerResumedFrame, NothingRecognisedFrame
from callbot.speech.audio import SAMPLE_WIDTH_BYTES, mean_word_confidence
from callbot.speech.decoder_pool import run_decoder
from callbot.speech.vosk_model import UNKNOWN_WORD, VoskModel

_FINISH = "finish"  # decoder queue markers: end of a turn, …
_SETTLE = "settle"  # … a pause inside it (close the utterance now), …
_REBUILD = "rebuild"  # … a new phrase list to apply
BACKLOG_WARNING_SEC = 2.0
MIN_RATE_HZ = 8000  # below, Kaldi's features are meaningless (and 0 Hz hangs Vosk)
MAX_RATE_HZ = 48000


@dataclass(frozen=True)
class VoskSTTParams:
    """Per-call recognition options; the defaults suit a phone call."""

    # Restricts recognition to these phrases (+ "[unk]"); small models only, see VoskModel.
    phrases: tuple[str, ...] | None = None
    batch_ms: int = 80  # audio handed to Vosk per thread hop
    # Decode only while the VAD hears speech (plus the pre-roll before it): a call's silence
    # and the bot's own turns then cost no CPU. Needs VAD frames; they drive the finals anyway.
    vad_gated: bool = True
    preroll_ms: int = 1000  # covers the VAD's start delay, so the first syllable is kept
    language: Language = Language.FR
    ttfs_p99_sec: float = 0.25  # end of speech → final transcript, for the turn strategies
    # one decoder job (a batch, the final result) running longer has hung: the call fails
    # over to a person (deadlines.stt_final_sec in the settings); None: no deadline
    hang_after_sec: float | None = 5.0


def transcript_result(segments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One turn's Vosk results (one per Vosk endpoint, then the final) → the frame's ``result``.

    ``words`` keeps Vosk's per-word ``word``/``conf``/``start``/``end``; ``confidence`` is their
    mean (``None`` when no word came out), which the policy reads as the transcript's confidence.
    """
    words = [word for segment in segments for word in segment.get("result", [])]
    text = " ".join(w for segment in segments for w in segment.get("text", "").split()
                    if w != UNKNOWN_WORD)
    return {"text": text, "words": words, "confidence": mean_word_confidence(words)}


class VoskSTTService(STTService):
    """Streaming Vosk recognition for one call; the model is shared, the recognizer is not.

    Decoding runs in a task of its own, fed through a queue: audio passes on to the VAD at
    once, never held up by the decoder, and the end-of-turn marker queued behind the audio
    makes the final result cover every sample the caller said.
    """

    def __init__(self, *, model: VoskModel, params: VoskSTTParams | None = None, **kwargs: Any):
        params = params or VoskSTTParams()
        super().__init__(ttfs_p99_latency=params.ttfs_p99_sec,
                         settings=STTSettings(model=model.path.name, language=params.language),
                         **kwargs)
        self._model = model
        self._params = params
        self._phrases: tuple[str, ...] | None = params.phrases
        self._recognizer: vosk.KaldiRecognizer | None = None
        # event-loop side: what the VAD says, audio not yet queued
        self._in_speech = False
        self._pending = bytearray()  # audio not yet queued for Vosk
        self._preroll = bytearray()  # recent audio while nobody speaks (vad_gated)
        self._paused = False  # a CallerPausedFrame came: the utterance is being closed
        self._held = bytearray()  # audio since the pause: decoded only if the caller goes on
        self._queue: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self._queued_bytes = 0
        self._backlog_warned = False
        self._decoder: asyncio.Task | None = None
        # decoder side: the utterance being decoded
        self._segments: list[dict[str, Any]] = []  # Vosk endpoints inside the current turn
        self._utterance_open = False
        self._fed_since_final = False  # audio decoded since the last FinalResult
        self._rebuild_after_turn = False
        self._last_interim = ""

    def can_generate_metrics(self) -> bool:
        return True

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self._build_recognizer()
        self._decoder = self.create_task(self._decode_loop(), name="vosk_decoder")

    async def stop(self, frame: EndFrame) -> None:
        if self._decoder is not None:  # decode what was said, then stop
            self._queue.put_nowait(None)
            await self._decoder
            self._decoder = None
        self._recognizer = None
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        if self._decoder is not None:
            await self.cancel_task(self._decoder)
            self._decoder = None
        self._recognizer = None
        await super().cancel(frame)

    async def set_phrases(self, phrases: Sequence[str] | None) -> None:
        """Switch the phrase list (``None``: open recognition); applied between utterances."""
        self._phrases = tuple(phrases) if phrases else None
        self._queue.put_nowait(_REBUILD)

    async def _build_recognizer(self) -> None:
        if not MIN_RATE_HZ <= self.sample_rate <= MAX_RATE_HZ:
            self._recognizer = None
            await self.push_error(f"{self}: Vosk needs audio at {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz, "
                                  f"this call is at {self.sample_rate} Hz: no recognition",
                                  force_treat_as_permanent=True)
            return
        try:
            self._recognizer = await asyncio.to_thread(
                self._model.recognizer, self.sample_rate, self._phrases)
        except Exception as error:
            self._recognizer = None
            await self.push_error(f"{self}: cannot create a Vosk recognizer at "
                                  f"{self.sample_rate} Hz: {error}", exception=error,
                                  force_treat_as_permanent=True)

    # -- event loop side: audio and VAD frames, nothing slow --

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, CallerPausedFrame | CallerResumedFrame):  # for us only: not passed on
            self._pause_changed(frame)
            return
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._speech_started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._in_speech = False
            self._paused = False
            self._held.clear()  # silence, as the VAD judged it: nothing to decode
            self._queue_pending(everything=True)
            self._queue.put_nowait(_FINISH)

    def _pause_changed(self, frame: CallerPausedFrame | CallerResumedFrame) -> None:
        """Close the utterance at a pause; decode the held audio if the caller goes on. Late
        frames (the VAD stop, a system frame, may overtake them) change nothing."""
        if isinstance(frame, CallerPausedFrame) and self._in_speech and not self._paused:
            self._paused = True
            self._queue_pending(everything=True)
            self._queue.put_nowait(_SETTLE)
        elif isinstance(frame, CallerResumedFrame) and self._paused:
            self._paused = False
            self._pending[:0] = self._held
            self._held.clear()

    def _speech_started(self) -> None:
        if not self._in_speech and self._params.vad_gated:
            self._pending[:0] = self._preroll
            self._preroll.clear()
        self._in_speech = True
        self._paused = False
        self._held.clear()

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        """Queue the call's audio for the decoder by ``batch_ms``; results come from there."""
        if self._recognizer is not None:
            if self._params.vad_gated and not self._in_speech:
                self._keep_preroll(audio)
            elif self._paused:
                self._held.extend(audio)
            else:
                self._pending.extend(audio)
                if len(self._pending) >= self._bytes_for(self._params.batch_ms):
                    self._queue_pending()
        yield None

    def _bytes_for(self, milliseconds: int) -> int:
        return self.sample_rate * milliseconds // 1000 * SAMPLE_WIDTH_BYTES

    def _keep_preroll(self, audio: bytes) -> None:
        self._preroll.extend(audio)
        excess = len(self._preroll) - self._bytes_for(self._params.preroll_ms)
        if excess > 0:
            del self._preroll[:excess]

    def _queue_pending(self, everything: bool = False) -> None:
        """Queue the whole samples of the pending audio; an odd byte waits for its other half."""
        whole = len(self._pending) // SAMPLE_WIDTH_BYTES * SAMPLE_WIDTH_BYTES
        if whole:
            self._queue.put_nowait(bytes(self._pending[:whole]))
            self._queued_bytes += whole
        del self._pending[: len(self._pending) if everything else whole]
        backlog_sec = self._queued_bytes / self._bytes_for(1000)
        if backlog_sec > BACKLOG_WARNING_SEC and not self._backlog_warned:
            self._backlog_warned = True
            logger.warning("{}: Vosk is {:.1f} s behind the caller: the CPU cannot keep up",
                           self, backlog_sec)

    # -- decoder side: one task, Vosk calls in a thread --

    async def _decode_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            if isinstance(item, bytes):
                self._queued_bytes -= len(item)
                await self._decode(item)
            elif item == _FINISH:
                await self._finish_turn()
            elif item == _SETTLE:
                await self._settle()
            elif self._utterance_open:  # _REBUILD in mid-utterance: after the final
                self._rebuild_after_turn = True
            else:
                await self._build_recognizer()

    async def _decode(self, chunk: bytes) -> None:
        if (recognizer := self._recognizer) is None:
            return
        self._utterance_open = True
        self._fed_since_final = True
        try:
            endpoint, result = await run_decoder(_accept, recognizer, chunk,
                                                 deadline_sec=self._params.hang_after_sec)
        except Exception as error:
            self._forget_if_wedged(error)
            await self.push_error(f"{self}: Vosk decoding failed: {error}", exception=error)
            return
        if endpoint:  # Vosk's own endpointer cut a pause inside the turn: keep the words
            self._segments.append(result)
            self._fed_since_final = False
            partial = ""
        else:
            partial = result.get("partial", "")
        text = " ".join([*(s.get("text", "") for s in self._segments), partial]).strip()
        if text and text != self._last_interim:
            self._last_interim = text
            await self.push_frame(InterimTranscriptionFrame(
                text, self._user_id, time_now_iso8601(), self._params.language,
                result={"partial": text}))

    def _forget_if_wedged(self, error: Exception) -> None:
        """After a deadline the written-off thread may still be inside the recognizer: Kaldi
        aborts the whole process if a second thread enters it, so this call never uses it again."""
        if isinstance(error, StageTimeout):
            self._recognizer = None

    async def _final_result(self) -> dict[str, Any] | None:
        """Close the utterance (``{}`` when no audio came since the last close); ``None`` after
        an error, which is pushed."""
        if (recognizer := self._recognizer) is None:
            return None
        if not self._fed_since_final:
            return {}
        self._fed_since_final = False
        try:
            return await run_decoder(_finalize, recognizer,
                                     deadline_sec=self._params.hang_after_sec)
        except Exception as error:
            self._forget_if_wedged(error)
            await self.push_error(f"{self}: Vosk final result failed: {error}", exception=error)
            return None

    async def _settle(self) -> None:
        """The caller paused: close the utterance now, keep its words for the turn."""
        final = await self._final_result()
        if final:
            self._segments.append(final)

    async def _finish_turn(self) -> None:
        """End of speech: take Vosk's final result and push one transcript for the turn."""
        segments, self._segments = self._segments, []
        self._utterance_open = False
        self._last_interim = ""
        if (final := await self._final_result()) is None:
            return
        if self._rebuild_after_turn:
            self._rebuild_after_turn = False
            await self._build_recognizer()
        result = transcript_result([*segments, final])
        if not result["text"]:
            logger.debug("{}: speech without any recognised word", self)
            await self.push_frame(NothingRecognisedFrame())
            return
        self.request_finalize()
        self.confirm_finalize()
        await self.push_frame(TranscriptionFrame(result["text"], self._user_id, time_now_iso8601(),
                                                 self._params.language, result=result))


def _accept(recognizer: vosk.KaldiRecognizer, chunk: bytes) -> tuple[bool, dict[str, Any]]:
    """In a thread: feed audio; (True, segment) at a Vosk endpoint, else (False, partial)."""
    if recognizer.AcceptWaveform(chunk):
        return True, json.loads(recognizer.Result())
    return False, json.loads(recognizer.PartialResult())


def _finalize(recognizer: vosk.KaldiRecognizer) -> dict[str, Any]:
    """In a thread: close the utterance (the recognizer resets for the next one)."""
    faults.check("stt")  # here, in the decoder thread, so that an injected hang hangs it
    return json.loads(recognizer.FinalResult())
