"""``AnsweredCall``: one outbound call from its INVITE to its BYE, driven by the campaign.

It is a ``SipCall`` (``callbot.sip.endpoint``), so the callee's BYE, keys sent as SIP INFO,
re-INVITEs, the RTP timeout and the transfer (REFER, NOTIFY, the switchboard's number said
when it fails) behave as for a caller. What differs: it rings first (``ring``), and once
answered its pipeline has no conversation processor; the caller of ``dial`` says, listens,
asks whether it reached a machine, transfers or hangs up (``callbot.sip.outbound_audio``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.transports.base_transport import TransportParams
from pipecat.workers.runner import WorkerRunner

from callbot.bridge.transport import BridgeTransport
from callbot.pipeline.call import END_GRACE_SEC
from callbot.pipeline.frames import HangupCallFrame, TransferCallFrame
from callbot.pipeline.pause_detection import PauseAwareVADProcessor
from callbot.sip.codecs import codec_named
from callbot.sip.dial_result import DialOutcome, outcome_of
from callbot.sip.endpoint import DRAIN_SEC, SipCall, SipEndpoint
from callbot.sip.media import SIP_PACING, RtpMedia
from callbot.sip.outbound_audio import AmdTap, Heard, HeardKind, OutboundDriver
from callbot.sip.outbound_leg import OutboundLeg
from callbot.sip.sdp import SdpError, SdpOffer
from callbot.sip.serializer import SipSerializer
from callbot.speech.answering_machine import AmdDecision, AmdParams, AnsweringMachineDetector
from callbot.speech.silero_vad import SharedSileroVADAnalyzer

#: Before the answer there is no media: the call's offer stands in for it.
NO_MEDIA = SdpOffer("0.0.0.0", 0, ())
#: The voice's first audio of a ``say`` comes by then, or the words are given up.
FIRST_AUDIO_SEC = 5.0
#: Quiet this long after the bot's audio stopped: its words are all out (not between sentences).
SENTENCE_GAP_SEC = 0.5
#: How long the pipeline may take to start, or to end after a hang-up.
PIPELINE_SEC = 10.0
#: Past the detector's window in wall time (its audio stopped: a far end that sends no RTP
#: in silence), what was heard decides.
AMD_SLACK_SEC = 1.0


class AnsweredCall(SipCall):
    """One outbound call; the public methods are for an answered one (``DialResult.call``)."""

    def __init__(self, endpoint: SipEndpoint, leg: OutboundLeg, number: str, sock: socket.socket,
                 release: Callable[[AnsweredCall], None], transfer_uri: str | None = None,
                 amd: AmdParams | None = None) -> None:
        super().__init__(endpoint, leg, NO_MEDIA, number)
        self._sock, self._release, self._transfer_uri = sock, release, transfer_uri
        self._setup: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.amd_params = amd or AmdParams()
        self._amd: asyncio.Future[AmdDecision] = asyncio.get_running_loop().create_future()
        self.driver = OutboundDriver()
        self.tap: AmdTap | None = None
        self.finished = asyncio.Event()  # the pipeline is over: nothing more is said or heard
        self.ended = asyncio.Event()  # the SIP call too (BYE sent or received, line released)
        self.transfer_failure: str | None = None
        self._task: asyncio.Task | None = None
        self._worker: PipelineWorker | None = None

    # --- setup -----------------------------------------------------------------------------------
    def on_leg_event(self, kind: str, detail: str) -> None:
        if kind in ("ringing", "answered", "failed"):
            self._setup.put_nowait((kind, detail))
            return
        super().on_leg_event(kind, detail)
        if kind == "ended":
            self.driver.heard.put_nowait(Heard(HeardKind.HANGUP))

    async def ring(self, timeout_sec: float) -> tuple[DialOutcome, int, str]:
        """Until the answer, a failure or ``timeout_sec`` (then CANCEL): outcome, status, why."""
        heard_back, answer = False, None
        try:
            async with asyncio.timeout(timeout_sec):
                while answer is None:
                    kind, detail = await self._setup.get()
                    if kind == "answered":
                        answer = detail
                    elif kind == "failed":
                        code, _, reason = detail.partition(" ")
                        return outcome_of(int(code), heard_back), int(code), reason
                    elif not heard_back or detail != "100":
                        heard_back = True
                        self.log.info(f"sip: {self.endpoint.pseudonym(self.caller)} ({detail})")
        except TimeoutError:
            self.leg.call(self.leg.do_hangup)  # CANCEL (sippy sends it once a 1xx came)
            if not heard_back:
                return DialOutcome.FAILED, 0, f"the trunk did not answer within {timeout_sec:g} s"
            return DialOutcome.NO_ANSWER, 487, f"no answer within {timeout_sec:g} s"
        return await self._answered(answer)

    async def _answered(self, sdp: str) -> tuple[DialOutcome, int, str]:
        sip = self.endpoint.settings.sip
        try:
            answer = SdpOffer.parse(sdp)
        except SdpError as exc:
            return self._fail_answered(f"unusable SDP answer: {exc}")
        ours = {name.lower() for name in sip.codec_preference}
        chosen = next((pt for pt in answer.formats if answer.name_of(pt) in ours), None)
        if chosen is None or self.caller_gone:
            return self._fail_answered("no codec of ours in the answer" if chosen is None
                                       else "hung up at once")
        self.offer, self.codec = answer, codec_named(answer.name_of(chosen) or "")
        self.media = RtpMedia(self._sock, self.endpoint.pacer, chosen, answer.telephone_event(),
                              (answer.address, answer.port), sip.rtp_timeout_sec,
                              self._on_control, self.log, self.codec.silence)
        await self.media.open()
        self.leg.media = (sip.public_address or sip.host, self._sock.getsockname()[1])
        self.leg.codec = self.codec.name
        self.log.info(f"sip: {self.endpoint.pseudonym(self.caller)} answered ({self.codec.name}, "
                      f"RTP {answer.address}:{answer.port})")
        worker = self._pipeline()
        self._task = asyncio.create_task(self._run(worker), name=f"sip-outbound-{self.call_id}")
        self.endpoint.own(self._task)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first(self.driver.started), PIPELINE_SEC)
        return DialOutcome.ANSWERED, 200, "OK"

    def _fail_answered(self, why: str) -> tuple[DialOutcome, int, str]:
        self.log.warning(f"sip: answered, but {why}: hanging up")
        self.leg.call(self.leg.do_hangup)
        self.finish()
        return DialOutcome.FAILED, 200, why

    def _pipeline(self) -> PipelineWorker:
        """The inbound call's pipeline, the campaign's driver in the conversation's place."""
        stack, rate, media = self.endpoint.stack, self.codec.sample_rate_hz, self.media
        assert media is not None
        analyzer = SharedSileroVADAnalyzer(stack.vad_session, sample_rate=rate, params=stack.vad)
        self.tap = AmdTap(analyzer, AnsweringMachineDetector(self.amd_params), self._decided)
        transport = BridgeTransport(media, SipSerializer(self.codec), TransportParams(
            audio_in_enabled=True, audio_out_enabled=True, audio_in_sample_rate=rate,
            audio_out_sample_rate=rate, audio_out_10ms_chunks=SIP_PACING.frame_ms // 10),
            self._on_end, SIP_PACING)
        processors = [transport.input(), PauseAwareVADProcessor(
            vad_analyzer=analyzer, pause_sec=stack.caller_pause_sec), self.tap,
            stack.make_stt(rate), self.driver, stack.make_tts(rate), transport.output()]
        return PipelineWorker(Pipeline(processors), params=PipelineParams(
            audio_in_sample_rate=rate, audio_out_sample_rate=rate), idle_timeout_secs=None,
            enable_rtvi=False, check_dangling_tasks=False, conversation_id=self.call_id)

    async def _run(self, worker: PipelineWorker) -> None:
        self._worker, stack = worker, self.endpoint.stack
        stack.call_started()
        try:
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(worker)
            await runner.run()
        except Exception as exc:
            self.log.opt(exception=exc).error("sip: the outbound call's pipeline failed")
        finally:
            stack.call_ended()
            self.finished.set()
            self.driver.heard.put_nowait(Heard(HeardKind.HANGUP))
            if self.transfer_reason is not None:
                self.transfer_failure = ("the callee hung up" if self.caller_gone else
                                         await self._transfer(self.transfer_reason,
                                                              self._transfer_uri))
            if not self.caller_gone:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.media.drained.wait(), DRAIN_SEC)
                self.leg.call(self.leg.do_hangup)
            await self.media.shutdown()
            self.finish()

    async def _on_end(self, who: str, reason: str) -> None:
        """The bridge transport's end of the call: the callee (BYE, RTP timeout) or the bot."""
        if self.finished.is_set():
            return
        self.finished.set()
        self.log.info(f"sip: outbound call ended by the {who} ({reason})")
        if who == "bot":
            await asyncio.sleep(END_GRACE_SEC)
        assert self.media is not None and self._worker is not None
        await self.media.close()
        await self._worker.cancel(reason=reason)

    def finish(self) -> None:
        """The line is free again (once)."""
        if not self.ended.is_set():
            self.ended.set()
            self.endpoint.detach(self.leg)
            self._release(self)
            if self.media is None:  # never answered: the RTP socket was never used
                self._sock.close()
            self._expire_amd()

    def _decided(self, decision: AmdDecision) -> None:
        self.log.info(f"amd: {decision.verdict} ({decision.reason}) after {decision.after_sec:.2f} s")
        if not self._amd.done():
            self._amd.set_result(decision)

    async def _first(self, event: asyncio.Event, timeout_sec: float | None = None) -> bool:
        """Wait for ``event`` or the end of the call; True if ``event`` came."""
        waits = [asyncio.create_task(event.wait()), asyncio.create_task(self.finished.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout_sec, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        return event.is_set()

    # --- for the campaign: an answered call -----------------------------------------------------
    async def machine(self) -> AmdDecision:
        """The answering-machine verdict on the first seconds after the answer."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._amd),
                                          self.amd_params.window_sec + AMD_SLACK_SEC)
        except TimeoutError:
            return self._expire_amd()

    def _expire_amd(self) -> AmdDecision:
        detector = self.tap.detector if self.tap else AnsweringMachineDetector(self.amd_params)
        decision = detector.expire()
        if not self._amd.done():
            self._amd.set_result(decision)
        return decision

    async def say(self, text: str) -> bool:
        """Speak ``text`` and return once it has been played; False if the callee is gone."""
        if self.finished.is_set():
            return False
        await self.driver.say(text)
        if await self._first(self.driver.speaking, FIRST_AUDIO_SEC):
            while await self._first(self.driver.quiet, len(text) * 0.2 + 10):
                await asyncio.sleep(SENTENCE_GAP_SEC)
                if self.driver.quiet.is_set():
                    break
        if self.media is not None and not self.finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.media.drained.wait(), DRAIN_SEC)
        return not self.finished.is_set()

    async def listen(self, timeout_sec: float) -> Heard:
        """What the callee says or keys next (since the last ``say``), SILENCE after
        ``timeout_sec``, HANGUP once the call is over."""
        if self.finished.is_set() and self.driver.heard.empty():
            return Heard(HeardKind.HANGUP)
        try:
            return await asyncio.wait_for(self.driver.heard.get(), timeout_sec)
        except TimeoutError:
            return Heard(HeardKind.SILENCE)

    async def wait_quiet(self, quiet_sec: float = 1.0, timeout_sec: float = 30.0) -> bool:
        """Until the callee has been silent ``quiet_sec`` (a greeting's end, its beep); False if
        that did not happen in ``timeout_sec`` or the call ended."""
        tap = self.tap
        if tap is None:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_sec), tap.quiet:
                await tap.quiet.wait_for(lambda: tap.quiet_sec >= quiet_sec
                                         or self.finished.is_set())
        return tap.quiet_sec >= quiet_sec and not self.finished.is_set()

    async def transfer(self, reason: str) -> str | None:
        """Hand the callee to the on-duty agent (REFER, as for callers), after the words queued;
        returns None once transferred, else why not (the switchboard's number was said)."""
        if not self.finished.is_set():
            await self.driver.send(TransferCallFrame(message="transfer", reason=reason,
                                                     target=self._transfer_uri or ""))
        await self.ended.wait()
        if self.transfer_reason is None:
            return "the call ended before the transfer"
        return self.transfer_failure

    async def hangup(self, reason: str = "done") -> None:
        """BYE once the words queued have been played; CANCEL while it still rings."""
        if self.media is None:
            self.leg.call(self.leg.do_hangup)
        elif not self.finished.is_set():
            await self.driver.send(HangupCallFrame(message="hangup", reason=reason))
        await self.ended.wait()
