"""``SipEndpoint``: answers SIP calls into the voice pipeline; transfers with a blind REFER.

Usage (what ``callbot serve`` does when ``[sip] enabled``)::

    endpoint = SipEndpoint(settings, stack)   # callbot.config.Settings, pipeline.call.VoiceStack
    port = await endpoint.start()             # UDP, settings.sip.port (0: a free one)
    ...
    await endpoint.stop()                     # hangs up what is left, stops sippy

Per call: INVITE → admission (allow-list 403, shutting down 503, capacity 486, SDP 488) →
200 OK with our SDP → pipeline until either side ends it. A transfer is a REFER to
``sip.transfer_uri`` carrying ``X-Callbot-Reason``; a final NOTIFY 2xx ends our leg with BYE;
a refused REFER or no final NOTIFY within ``transfer_timeout_sec`` makes the bot say the
switchboard's number, then BYE. Caller numbers reach logs only as pseudonyms.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from typing import TYPE_CHECKING

from loguru import logger

from callbot.config import Settings
from callbot.conversation.call_events import LineEventKind
from callbot.pipeline.call import CallInfo, VoiceStack, run_call
from callbot.privacy import load_key, pseudonymise
from callbot.sip.codecs import Codec, codec_named
from callbot.sip.media import SIP_PACING, RtpMedia, bind_rtp_socket
from callbot.sip.pacer import RtpPacer
from callbot.sip.sdp import SdpOffer, answer
from callbot.sip.serializer import SipSerializer
from callbot.sip.signalling import SippyThread, probe_udp_port

if TYPE_CHECKING:
    from callbot.sip.sippy_side import Admission, SipCallLeg, SippyStack

TRANSFER_FAILED = ("Je n'arrive pas à vous passer le standard. Vous pouvez appeler l'accueil de "
                   "la mairie au {number}. Au revoir.")
#: After the fallback words, before BYE: the last packets must reach the caller.
FAREWELL_MARGIN_SEC = 0.5
#: At most this long for queued audio to leave before our BYE.
DRAIN_SEC = 2.0
#: On stop, calls that ``callbot serve``'s drain did not count yet may finish for this long.
STOP_GRACE_SEC = 10.0


class SipCall:
    """One answered (or being answered) SIP call, on the asyncio side."""

    def __init__(self, endpoint: SipEndpoint, leg: SipCallLeg, offer: SdpOffer,
                 caller: str | None) -> None:
        self.endpoint, self.leg, self.offer, self.caller = endpoint, leg, offer, caller
        self.call_id = uuid.uuid4().hex
        self.log = logger.bind(call_id=self.call_id)
        self.media: RtpMedia | None = None
        self.codec: Codec | None = None
        self.caller_gone = False
        self._gone = asyncio.Event()
        self.transfer_reason: str | None = None
        self._progress: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def run(self) -> None:
        sip = self.endpoint.settings.sip
        codec_pt = self.offer.choose_codec(sip.codec_preference)
        assert codec_pt is not None  # sippy_side refused the call otherwise
        self.codec = codec = codec_named(self.offer.name_of(codec_pt) or "")
        if sip.answer_delay_ms > 0:  # ring first (some PBXs want it; lets tests CANCEL)
            self.leg.call(self.leg.do_ring)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gone.wait(), sip.answer_delay_ms / 1000)
        if self.caller_gone:  # CANCEL came before we could answer
            return
        try:
            sock = bind_rtp_socket(sip.host, sip.rtp_port_min, sip.rtp_port_max)
        except OSError as exc:
            self.log.error(f"sip: {exc}")
            self.leg.call(self.leg.do_reject, 503, "Service Unavailable")
            return
        self.media = RtpMedia(sock, self.endpoint.pacer, codec_pt, self.offer.telephone_event(),
                              (self.offer.address, self.offer.port), sip.rtp_timeout_sec,
                              self._on_control, self.log, codec.silence)
        await self.media.open()
        address = sip.public_address or sip.host
        self.leg.media, self.leg.codec = (address, sock.getsockname()[1]), codec.name
        self.leg.call(self.leg.do_answer,
                      answer(self.offer, *self.leg.media, preference=(codec.name,)))
        self.log.info(f"sip: answering a call from {self.endpoint.pseudonym(self.caller)} "
                      f"({codec.name}, RTP {self.offer.address}:{self.offer.port} ↔ port "
                      f"{self.leg.media[1]})")
        info = CallInfo(self.call_id, "sip", codec.sample_rate_hz, caller_id=self.caller,
                        pacing=SIP_PACING)
        try:
            conversation = await run_call(self.endpoint.stack, self.media, SipSerializer(codec), info)
            if self.transfer_reason is not None and not self.caller_gone:
                failure = await self._transfer(self.transfer_reason)
                if failure:  # the record said "transferred": it now says why the caller was not
                    conversation.record(LineEventKind.ERROR, f"sip transfer failed: {failure}")
                    conversation.transfer_failed(f"sip: {failure}")
            if not self.caller_gone:  # the last words leave before our BYE
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.media.drained.wait(), DRAIN_SEC)
        finally:
            if not self.caller_gone:
                self.leg.call(self.leg.do_hangup)
            await self.media.shutdown()

    # --- events --------------------------------------------------------------------------------
    def _on_control(self, verb: str, argument: str) -> None:
        """From the pipeline (transfer / hangup words) or the media (RTP timeout)."""
        if verb == "transfer":
            self.transfer_reason = argument
        elif verb == "timeout" and self.media is not None:
            self.media.end(argument)

    def on_leg_event(self, kind: str, detail: str) -> None:
        """From sippy: ended (BYE/CANCEL), refer / notify (transfer progress), dtmf (INFO)."""
        if kind == "ended":
            self.caller_gone = True
            self._gone.set()
            self.log.info(f"sip: the caller ended the call ({detail})")
            if self.media is not None:
                self.media.end(f"caller_{detail}")
        elif kind == "dtmf" and self.media is not None:
            self.media.push_event(f"dtmf:{detail}")
        elif kind == "bad_sdp":
            self.log.warning(f"sip: re-INVITE with unusable SDP ({detail}); media unchanged")
        self._progress.put_nowait((kind, detail))

    # --- transfer ------------------------------------------------------------------------------
    async def _transfer(self, reason: str, target: str | None = None) -> str | None:
        """REFER (to ``target``, else ``sip.transfer_uri``) and its outcome; returns why it
        failed (after the fallback words), else None."""
        sip = self.endpoint.settings.sip
        target = target or sip.transfer_uri
        self.log.info(f"sip: REFER to {target} (reason {reason})")
        self.leg.call(self.leg.do_refer, target, reason)
        outcome = await self._transfer_outcome(sip.transfer_timeout_sec)
        if outcome == "transferred":
            self.log.info("sip: transfer accepted (NOTIFY 200); leaving the call")
            return None
        if outcome == "caller_gone":
            return None
        self.log.warning(f"sip: transfer failed ({outcome}); saying the switchboard number")
        await self._say(TRANSFER_FAILED.format(number=sip.switchboard_number))
        return outcome

    async def _transfer_outcome(self, timeout_sec: float) -> str:
        try:
            async with asyncio.timeout(timeout_sec):
                while True:
                    kind, detail = await self._progress.get()
                    code = int(detail) if detail.isdigit() else 0
                    if kind == "ended":
                        return "caller_gone"
                    if kind == "refer" and code >= 300:
                        return f"REFER answered {code}"
                    if kind == "notify" and code >= 200:
                        return "transferred" if code < 300 else f"NOTIFY {code}"
        except TimeoutError:
            return f"no final NOTIFY within {timeout_sec:.0f} s"

    async def _say(self, text: str) -> None:
        render = self.endpoint.stack.render_speech
        if render is None or self.media is None or self.codec is None:
            return
        pcm = await asyncio.to_thread(render, text, self.codec.sample_rate_hz)
        self.media.queue_audio(self.codec.coder().encode(pcm))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.media.drained.wait(), self.media.queued_sec + 5)
        await asyncio.sleep(FAREWELL_MARGIN_SEC)


class SipEndpoint:
    """sippy in its thread + one ``SipCall`` task per call; see the module docstring."""

    def __init__(self, settings: Settings, stack: VoiceStack) -> None:
        self.settings, self.stack = settings, stack
        sip = settings.sip
        self.max_calls = sip.max_calls or settings.voice.max_calls
        self._thread: SippyThread | None = None
        self.pacer = RtpPacer()  # every call's RTP send clock, one thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: dict[int, SipCall] = {}  # id(leg) → call; touched on the asyncio side only
        self._tasks: set[asyncio.Task] = set()
        self._lock = threading.Lock()  # guards _reserved, read by sippy's thread
        self._reserved = 0
        self._stopping = False
        self._key = load_key(settings.store.pseudonym_key, settings.store.state_dir / "pseudonym.key")

    def pseudonym(self, caller: str | None) -> str:
        return pseudonymise(caller, self._key) or "an unknown caller"

    async def start(self) -> int:
        sip = self.settings.sip
        self._loop = asyncio.get_running_loop()
        port = probe_udp_port(sip.host, sip.port)
        self._thread = SippyThread(sip, port, self)
        await asyncio.to_thread(self._thread.start)
        self.pacer.start()
        return port

    async def stop(self) -> None:
        """New INVITEs get 503; calls still setting up or transferring get ``STOP_GRACE_SEC``."""
        self._stopping = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=STOP_GRACE_SEC)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._thread is not None:
            await asyncio.to_thread(self._thread.stop)
            self._thread = None
        await asyncio.to_thread(self.pacer.stop)

    # --- outbound calls (callbot.sip.outbound): lines shared with callers -------------------
    @property
    def sippy_stack(self) -> SippyStack | None:
        """The running SIP stack (its objects are used in sippy's thread only)."""
        return self._thread.stack if self._thread is not None else None

    def reserve_line(self, keep_free: int = 0) -> bool:
        """A line for an outbound call if ``keep_free`` more stay free for callers, whom
        ``admit`` lets in while any line is free: inbound goes first."""
        if not self.available() or not self.stack.can_take_call(
                self.settings.voice.max_calls - keep_free):
            return False
        with self._lock:
            if self._reserved + keep_free >= self.max_calls:
                return False
            self._reserved += 1
        return True

    def release_line(self) -> None:
        with self._lock:
            self._reserved -= 1

    def attach(self, leg: SipCallLeg, call: SipCall) -> None:
        """Route ``leg``'s events (BYE, NOTIFY, INFO, re-INVITE) to ``call``."""
        self._calls[id(leg)] = call

    def detach(self, leg: SipCallLeg) -> None:
        self._calls.pop(id(leg), None)

    def own(self, task: asyncio.Task) -> None:
        """A call's task: ``stop`` waits for it, then cancels it, before sippy and RTP stop."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- SignallingEvents: called in sippy's thread, never block -----------------------------
    def available(self) -> bool:
        return not self._stopping and self.stack.accepting

    def admit(self, source: str) -> Admission:
        from callbot.sip.sippy_side import Admission

        if not self.available():
            return Admission(503, "Service Unavailable")
        with self._lock:
            busy = self._reserved >= self.max_calls
        if busy or not self.stack.can_take_call(self.settings.voice.max_calls):
            return Admission(486, "Busy Here")
        return Admission()

    def refused(self, source: str, code: int, reason: str) -> None:
        logger.warning(f"sip: INVITE from {source} refused with {code} ({reason})")

    def offered(self, leg: SipCallLeg, offer: SdpOffer, caller: str | None) -> None:
        with self._lock:
            self._reserved += 1
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._start_call, leg, offer, caller)

    def leg_event(self, leg: SipCallLeg, kind: str, detail: str) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._leg_event, leg, kind, detail)

    def reinvited(self, leg: SipCallLeg, offer: SdpOffer) -> str | None:
        if leg.media is None:
            return None
        assert self._loop is not None
        # the call keeps its codec: an offer without it raises SdpError (media unchanged)
        codecs = (leg.codec,) if leg.codec else self.settings.sip.codec_preference
        sdp = answer(offer, *leg.media, preference=codecs)
        self._loop.call_soon_threadsafe(self._retarget, leg, offer)
        return sdp

    # --- asyncio side ----------------------------------------------------------------------------
    def _start_call(self, leg: SipCallLeg, offer: SdpOffer, caller: str | None) -> None:
        call = SipCall(self, leg, offer, caller)
        self._calls[id(leg)] = call
        self.own(asyncio.create_task(self._run_call(call), name=f"sip-call-{call.call_id}"))

    async def _run_call(self, call: SipCall) -> None:
        try:
            await call.run()
        except Exception as exc:
            call.log.opt(exception=exc).error("sip: the call failed")
        finally:
            self._calls.pop(id(call.leg), None)
            with self._lock:
                self._reserved -= 1

    def _leg_event(self, leg: SipCallLeg, kind: str, detail: str) -> None:
        call = self._calls.get(id(leg))
        if call is not None:
            call.on_leg_event(kind, detail)

    def _retarget(self, leg: SipCallLeg, offer: SdpOffer) -> None:
        call = self._calls.get(id(leg))
        if call is None or call.media is None:
            return
        held = offer.direction in ("sendonly", "inactive")
        call.log.info(f"sip: re-INVITE: media {'on hold' if held else 'resumed'} "
                      f"({offer.address}:{offer.port})")
        call.media.retarget((offer.address, offer.port), held)
