"""``OutboundDialer``: calls placed from the SIP endpoint, through the town's trunk or PBX.

Usage (what a campaign does; see docs/telephony.md, "Outbound calls")::

    dialer = OutboundDialer(endpoint)          # a started SipEndpoint; settings.sip.outbound
    if dialer.may_dial():
        result = await dialer.dial("0601020304", caller_id="0130000000")
        if result.outcome == DialOutcome.ANSWERED:
            call = result.call
            if (await call.machine()).machine:
                await call.wait_quiet()        # the greeting's end, its beep
            await call.say("Bonjour, ici la mairie…")
            heard = await call.listen(6.0)     # speech, a key, silence or hang-up
            await call.hangup()                # or: await call.transfer("needs_help")
    await dialer.close()                       # what is still up, before endpoint.stop()

``campaign_dialer(settings)`` does all of it for ``callbot campaign run``.

Outbound calls share the endpoint's lines with callers: a call is placed only while
``keep_free_lines`` more stay free, and callers are let in while any line is free (inbound
first). The line is held from the INVITE until the call's end (``AnsweredCall.ended``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

from callbot.config import Settings
from callbot.sip.dial_result import DialOutcome
from callbot.sip.endpoint import SipEndpoint
from callbot.sip.media import bind_rtp_socket
from callbot.sip.outbound_settings import OutboundSettings
from callbot.sip.sdp_offer import offer
from callbot.speech.answering_machine import AmdParams

if TYPE_CHECKING:
    from callbot.sip.outbound_call import AnsweredCall
    from callbot.sip.sippy_side import SippyStack

#: ``close`` gives each call this long to say goodbye and end.
CLOSE_SEC = 5.0


@dataclass(frozen=True)
class DialResult:
    """A ``callbot.campaigns.dialer.DialReport``: the attempt's outcome, its call if answered."""

    outcome: DialOutcome
    status: int  # the INVITE's final SIP status (200, 486, 487 after our CANCEL…); 0: none
    reason: str = ""  # the status's reason phrase, or ours ("no free line", "ring timeout")
    call: AnsweredCall | None = None  # set when answered: drive it, then hang it up
    placed: bool = True  # False: no INVITE left (no free line, endpoint not running)


class OutboundDialer:
    """Places calls on ``endpoint``; ``may_dial`` and ``dial`` from the asyncio loop only."""

    def __init__(self, endpoint: SipEndpoint, settings: OutboundSettings | None = None,
                 amd: AmdParams | None = None) -> None:
        self.endpoint = endpoint
        self.settings = settings or endpoint.settings.sip.outbound
        self.amd = amd or AmdParams()
        self.calls: set[AnsweredCall] = set()  # holding a line (ringing or answered)

    @property
    def active(self) -> int:
        return len(self.calls)

    def may_dial(self) -> bool:
        """Whether a call placed now would get a line (no line is reserved by asking)."""
        out = self.settings
        if not out.configured or self.endpoint.sippy_stack is None:
            return False
        if out.max_lines is not None and self.active >= out.max_lines:
            return False
        if not self.endpoint.reserve_line(out.keep_free_lines):
            return False
        self.endpoint.release_line()
        return True

    async def dial(self, number: str, caller_id: str | None = None) -> DialResult:
        """Call ``number`` as ``caller_id`` (default ``caller_id`` of the settings) and return
        once it is answered, busy, unanswered after ``ring_timeout_sec``, rejected or failed."""
        out = self.settings
        stack = self.endpoint.sippy_stack
        if not out.configured or stack is None:
            return DialResult(DialOutcome.FAILED, 0, "outbound calls are not configured",
                              placed=False)
        if (out.max_lines is not None and self.active >= out.max_lines) \
                or not self.endpoint.reserve_line(out.keep_free_lines):
            return DialResult(DialOutcome.FAILED, 0, "no free line", placed=False)
        try:
            call = self._invite(stack, number, caller_id or out.caller_id)
        except Exception:
            self.endpoint.release_line()
            raise
        try:
            outcome, status, reason = await call.ring(out.ring_timeout_sec)
        except BaseException:  # cancelled while ringing: CANCEL, free the line, re-raise
            call.leg.call(call.leg.do_hangup)
            call.finish()
            raise
        call.log.info(f"sip: dialled {self.endpoint.pseudonym(number)}: {outcome} ({status} {reason})")
        if outcome != DialOutcome.ANSWERED:
            call.finish()
            return DialResult(outcome, status, reason)
        return DialResult(outcome, status, reason, call)

    def _invite(self, stack: SippyStack, number: str, caller_id: str) -> AnsweredCall:
        """The call's RTP socket, its leg and the INVITE on its way."""
        from callbot.sip.outbound_call import AnsweredCall  # pipecat, sippy: once running
        from callbot.sip.outbound_leg import Invitation, OutboundLeg

        out, sip = self.settings, self.endpoint.settings.sip
        assert out.trunk_host is not None
        sock = bind_rtp_socket(sip.host, sip.rtp_port_min, sip.rtp_port_max)
        sdp = offer(sip.public_address or sip.host, sock.getsockname()[1], sip.codec_preference)
        credentials = (out.username, out.password) if out.username and out.password else None
        leg = OutboundLeg(stack, Invitation(number, caller_id, out.caller_name,
                                            out.from_domain or out.trunk_host,
                                            (out.trunk_host, out.trunk_port), credentials, sdp))
        call = AnsweredCall(self.endpoint, leg, number, sock, self._release, out.transfer_uri,
                            self.amd)
        self.calls.add(call)
        self.endpoint.attach(leg, call)
        leg.call(leg.do_invite)
        logger.bind(call_id=call.call_id).info(
            f"sip: calling {self.endpoint.pseudonym(number)} via {out.trunk_host}:{out.trunk_port}")
        return call

    def _release(self, call: AnsweredCall) -> None:
        self.calls.discard(call)
        self.endpoint.release_line()

    async def close(self, timeout_sec: float = CLOSE_SEC) -> None:
        """Hang up (or cancel) every call still holding a line: the campaign or the process
        stops. Before ``SipEndpoint.stop``, which would otherwise wait for them."""
        calls = list(self.calls)
        if calls:
            logger.info(f"sip: hanging up {len(calls)} outbound call(s)")
            await asyncio.gather(*(asyncio.wait_for(call.hangup("shutdown"), timeout_sec)
                                   for call in calls), return_exceptions=True)



@contextlib.asynccontextmanager
async def campaign_dialer(settings: Settings) -> AsyncIterator[OutboundDialer]:
    """``callbot campaign run``'s default ``--dialer``: a SIP endpoint of this process's own
    (on ``sip.outbound.local_port``), the voice loaded once; on the way out every call still
    up is hung up, then the endpoint stops."""
    from callbot.brain import Brain  # the NLU, the voice: loaded only to place calls
    from callbot.serve import build_voice_stack

    out = settings.sip.outbound
    if not out.configured:
        raise ValueError("outbound calls are not configured: set [sip.outbound] trunk_host "
                         "(CALLBOT_SIP__OUTBOUND__TRUNK_HOST), see docs/telephony.md")
    own = settings.model_copy(update={"sip": settings.sip.model_copy(
        update={"port": out.local_port})})
    brain = await asyncio.to_thread(Brain.load, own)
    endpoint = SipEndpoint(own, await asyncio.to_thread(build_voice_stack, own, brain))
    port = await endpoint.start()
    logger.info(f"sip: placing calls from UDP port {port} via {out.trunk_host}:{out.trunk_port}")
    dialer = OutboundDialer(endpoint)
    try:
        yield dialer
    finally:
        await dialer.close()
        await endpoint.stop()
