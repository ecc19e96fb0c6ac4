"""The sippy side of an outbound call: one UAC dialog, run in sippy's thread.

An ``OutboundLeg`` is a ``SipCallLeg`` (so REFER, NOTIFY, INFO DTMF, re-INVITE and BYE work as
for a caller) whose UA places the INVITE: to the trunk, From and P-Asserted-Identity the town
hall's number, digest credentials answered by sippy's UA to a 401/407 once per request. It
tells the asyncio side ``ringing`` (any 1xx: the code), ``answered`` (the SDP answer),
``failed`` (``"<code> <reason>"`` of a final failure) and then, as a caller's leg, ``ended``.
Imported only after the endpoint started (sippy belongs to its thread: ``signalling``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sippy.CCEvents import CCEventConnect, CCEventDisconnect, CCEventFail, CCEventRing, CCEventTry
from sippy.MsgBody import MsgBody
from sippy.SipAddress import SipAddress
from sippy.SipCallId import SipCallId
from sippy.SipContact import SipContact
from sippy.SipHeader import SipHeader
from sippy.SipPAssertedIdentity import SipPAssertedIdentity
from sippy.SipURL import SipURL

from callbot.sip.sippy_side import SipCallLeg, SippyStack


@dataclass(frozen=True)
class Invitation:
    """What the INVITE says: whom we call, as whom, through where."""

    number: str
    caller_id: str
    caller_name: str | None
    from_host: str  # the host of From and P-Asserted-Identity
    trunk: tuple[str, int]
    credentials: tuple[str, str] | None
    sdp: str


class _Try(CCEventTry):
    """sippy's INVITE event, with our From host set once the UA has built its From."""

    from_host = ""

    def onUacSetupComplete(self, uac) -> None:  # noqa: N802 - sippy's name
        uac.lUri.getUrl().host = self.from_host


class OutboundLeg(SipCallLeg):
    """One outbound dialog; ``do_invite`` runs in sippy's thread (``call``)."""

    def __init__(self, stack: SippyStack, invitation: Invitation) -> None:
        super().__init__(stack)
        self.invitation = invitation
        self.ua.setNextHop(invitation.trunk)
        if invitation.credentials is not None:
            self.ua.setAuth(*invitation.credentials)
        if stack.contact is None:  # our bound address, not the host name's (sippy's default)
            config = stack.global_config
            self.ua.lContact = SipContact(address=SipAddress(url=SipURL(
                username="callbot", host=config["_sip_address"], port=config["_sip_port"])))
        self.answered = False

    def do_invite(self) -> None:
        sent = self.invitation
        identity = SipPAssertedIdentity(address=SipAddress(
            url=SipURL(username=sent.caller_id, host=sent.from_host), name=sent.caller_name))
        event = _Try((SipCallId(), sent.caller_id, sent.number, MsgBody(sent.sdp), None,
                      sent.caller_name))
        event.from_host = sent.from_host
        event.extra_headers = (SipHeader(body=identity),)
        self.local_sdp = sent.sdp
        self.ua.recvEvent(event)
        self.call_id = str(self.ua.cId)

    def _on_event(self, event, ua) -> None:
        if self.answered:
            super()._on_event(event, ua)  # BYE, re-INVITE, INFO: as a caller's leg
        elif isinstance(event, CCEventRing):
            self._emit("ringing", str(event.getData()[0]))
        elif isinstance(event, CCEventConnect):
            self.answered = True
            body = event.getData()[2]
            self._emit("answered", str(body) if body is not None else "")
        elif isinstance(event, CCEventFail):
            code, reason = event.getData()[:2]
            self._emit("failed", f"{code} {reason}")
        elif isinstance(event, CCEventDisconnect):
            self._emit("failed", "487 Request Terminated")
