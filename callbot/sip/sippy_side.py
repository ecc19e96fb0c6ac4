"""Everything that touches sippy; imported only by the sippy thread (see ``callbot.sip.signalling``).

sippy's dispatcher ``ED2`` belongs to the thread that imported it first, so this module is
imported inside that thread and every function here runs there. The asyncio side is told
about calls through ``SignallingEvents`` (each call goes through ``loop.call_soon_threadsafe``)
and acts on a call only through ``ED2.callFromThread`` (see ``SipCallLeg``'s methods).
"""

from __future__ import annotations

import contextlib
import ipaddress
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import sippy.Core.EventDispatcher
import sippy.Network_server
import sippy.SipTransactionManager
import sippy.Udp_server
from loguru import logger
from sippy.CCEvents import (
    CCEventConnect,
    CCEventDisconnect,
    CCEventFail,
    CCEventInfo,
    CCEventRing,
    CCEventTry,
    CCEventUpdate,
)
from sippy.Core.EventDispatcher import ED2
from sippy.Exceptions.SipParseError import SipParseError
from sippy.MsgBody import MsgBody
from sippy.SipAddress import SipAddress
from sippy.SipConf import MyPort, SipConf
from sippy.SipContact import SipContact
from sippy.SipGenericHF import SipGenericHF
from sippy.SipHeader import SipHeader
from sippy.SipReferredBy import SipReferredBy
from sippy.SipReferTo import SipReferTo
from sippy.SipRegistrationAgent import SipRegistrationAgent
from sippy.SipRequest import SipRequest
from sippy.SipTransactionManager import SipTransactionManager
from sippy.SipURL import SipURL
from sippy.SipWWWAuthenticate import SipWWWAuthenticate
from sippy.UA import UA

from callbot.config import SipSettings
from callbot.sip.sdp import SdpError, SdpOffer

REASON_HEADER = "X-Callbot-Reason"
AUTH_REALM = "callbot"
CHALLENGE = (401, "Unauthorized")
#: Headers without which an INVITE cannot start a dialog (sippy would fail on them later).
REQUIRED_HEADERS = ("from", "to", "call-id", "cseq", "via", "contact")
#: Headers a request carries once (RFC 3261 §7.3.1); two make sippy's transactions disagree.
SINGLE_HEADERS = ("from", "to", "call-id", "cseq")


@dataclass(frozen=True)
class Admission:
    """The asyncio side's answer to "may this INVITE become a call?" (code 0 = yes)."""

    code: int = 0
    reason: str = ""


class SignallingEvents(Protocol):
    """The asyncio side (``SipEndpoint``); called in the sippy thread, must not block."""

    def admit(self, source: str) -> Admission: ...

    def available(self) -> bool: ...  # False while draining: OPTIONS probes get 503

    def offered(self, leg: SipCallLeg, offer: SdpOffer, caller: str | None) -> None: ...

    def leg_event(self, leg: SipCallLeg, kind: str, detail: str) -> None: ...

    def reinvited(self, leg: SipCallLeg, offer: SdpOffer) -> str | None: ...

    def refused(self, source: str, code: int, reason: str) -> None: ...


def _report_sippy_error(message: str, f: object = None, extra: object = None) -> None:
    """sippy's error reports, into our log: never the SIP text (``extra``), it holds numbers."""
    kind, error, trace = sys.exc_info()
    if message.startswith("can't parse"):  # a garbled datagram: one line is enough
        logger.warning(f"sip: {message} ({kind.__name__ if kind else 'error'}); dropped")
        return
    logger.error(f"sip: {message}\n" + "".join(traceback.format_exception(kind, error, trace)))


for _module in (sippy.SipTransactionManager, sippy.Udp_server, sippy.Network_server,
                sippy.Core.EventDispatcher):
    _module.dump_exception = _report_sippy_error


def _parse_error_response(self: SipParseError, req: object = None) -> object:
    """sippy 2.5.0 prepares a 400 for an unreadable body (bad Content-Length, cut short) but
    asks for it with ``getResponse()``, no argument: a TypeError instead of the 400."""
    if self.sip_response is not None or req is None:
        return self.sip_response
    return super(SipParseError, self).getResponse(req)


SipParseError.getResponse = _parse_error_response


class _GuardedTransactionManager(SipTransactionManager):
    """sippy's, minus faults of its receive path: it decodes UTF-8 outside its error
    handling (one byte of Latin-1 and the message is an unhandled error), and it prints a
    response with an impossible status code, SIP text and all, to stdout; and it reads a
    header only when it first needs it, deep in its transaction layer, where a garbled one
    is an unhandled error that may leave a transaction open for good."""

    def handleIncoming(self, data_in, ra, server, rtime):  # noqa: N802 - sippy's name
        if isinstance(data_in, bytes):
            try:
                data_in = data_in.decode()
            except UnicodeDecodeError as exc:  # read what can be read; the parser judges
                logger.warning(f"sip: datagram from {ra} is not UTF-8 (byte {exc.start}); "
                               "read with replacement characters")
                data_in = data_in.decode(errors="replace")
        if data_in.startswith("SIP/2.0 "):
            status = data_in[8:].split(" ", 1)[0].split("\r", 1)[0]
            if status.isascii() and status.isdigit() and not 100 <= int(status) <= 999:
                logger.warning(f"sip: response from {ra} with status {status[:10]}; dropped")
                return None
        elif self._unreadable_header(data_in, ra, server):
            return None
        return super().handleIncoming(data_in, ra, server, rtime)

    def _unreadable_header(self, text: str, ra, server) -> bool:
        """Read every header first; a garbled or doubled one (or version): 400 (505) if the
        answer can be built, and a log line."""
        try:
            req = SipRequest(text)
        except Exception:  # noqa: BLE001 - sippy's parser says why (a log line, maybe a 400)
            return False
        if req.sipver != "SIP/2.0":  # sippy would answer in the same garbled version
            logger.warning(f"sip: request from {ra} in version {req.sipver[:20]!r}; refused")
            req.sipver = "SIP/2.0"
            self._refuse(req, 505, "Version Not Supported", ra, server)
            return True
        for name in SINGLE_HEADERS:  # sippy keys a transaction on the last, answers the first
            if (count := req.countHFs(name)) > 1:
                logger.warning(f"sip: request from {ra} with {count} {name} headers; refused")
                self._refuse(req, 400, f"Bad Request - {count} {name} headers", ra, server)
                return True
        for header in req.headers:
            try:
                header.getBody()
            except Exception as exc:  # noqa: BLE001 - any parse failure of any header class
                name, error = header.name, type(exc).__name__
                break
        else:
            return False
        logger.warning(f"sip: request from {ra} with an unreadable {name[:30]} header ({error}); "
                       "refused")
        self._refuse(req, 400, f"Bad Request - unreadable {name} header", ra, server)
        return True

    def _refuse(self, req: SipRequest, code: int, reason: str, ra, server) -> None:
        """Answer outside any transaction (never an ACK; the answer needs readable Via, From,
        To, Call-ID and CSeq, else nothing is sent)."""
        if req.getMethod() == "ACK":
            return
        with contextlib.suppress(Exception):
            self.transmitMsg(server, req.genResponse(code, reason), ra.address, None)


class _QuietSipLogger:
    """sippy logs whole SIP messages (caller numbers included): we keep them out of the logs."""

    def write(self, *args: object, **kwargs: object) -> None:
        pass


class _ReasonHF(SipGenericHF):
    """``X-Callbot-Reason``, spelt so (sippy would write ``X-callbot-reason``)."""

    hf_names = (REASON_HEADER.lower(),)

    def getCanName(self, name, compact=False):  # noqa: N802 - sippy's name
        return REASON_HEADER


class _BotUA(UA):
    """sippy's UA, plus an immediate answer to in-dialog NOTIFY (transfer progress)."""

    on_notify: Callable[[str], None] | None = None

    def recvRequest(self, req, sip_t):  # noqa: N802 - sippy's name
        if req.getMethod() != "NOTIFY" or self.on_notify is None:
            return super().recvRequest(req, sip_t)
        self.rCSeq = req.getHFBody("cseq").getCSeqNum()
        body = req.getBody()
        # Told on the dispatcher's next turn, once sippy has sent this 200: a final NOTIFY
        # ends our leg, and the caller's side must get the 200 before our BYE.
        ED2.callFromThread(self.on_notify, str(body) if body is not None else "")
        return (req.genResponse(200, "OK"), None, None)


class SipCallLeg:
    """One inbound dialog. Methods named ``do_*`` run in the sippy thread (via ``callFromThread``)."""

    def __init__(self, stack: SippyStack) -> None:
        self._stack = stack
        self.ua = _BotUA(stack.global_config, event_cb=self._on_event)
        self.ua.on_notify = self._on_notify
        if stack.contact is not None:
            self.ua.lContact = stack.contact.getCopy()
        self.call_id = ""
        self.local_sdp: str | None = None
        self.media: tuple[str, int] | None = None  # our RTP address, set by the asyncio side
        self.codec: str | None = None  # the call's codec (SDP name), set with ``media``

    # --- from the asyncio side ---------------------------------------------------------------
    def call(self, method: Callable[..., None], *args: object) -> None:
        """Run ``method(*args)`` in the sippy thread (the only thread-safe entry)."""
        ED2.callFromThread(method, *args)

    def do_answer(self, sdp: str) -> None:
        if self.ua.isDead() or self.ua.isConnected():
            return
        self.local_sdp = sdp
        self.ua.recvEvent(CCEventConnect((200, "OK", MsgBody(sdp))))

    def do_ring(self) -> None:
        if not self.ua.isDead() and not self.ua.isConnected():
            self.ua.recvEvent(CCEventRing((180, "Ringing", None)))

    def do_reject(self, code: int, reason: str) -> None:
        if not self.ua.isDead() and not self.ua.isConnected():
            self.ua.recvEvent(CCEventFail((code, reason)))

    def do_hangup(self) -> None:
        if not self.ua.isDead():
            self.ua.recvEvent(CCEventDisconnect())

    def do_refer(self, target: str, reason: str) -> None:
        """Blind transfer (RFC 3515): progress comes back as ``refer`` / ``notify`` events."""
        if not self.ua.isConnected():
            self._emit("refer", "481")
            return
        reason_hf = _ReasonHF(reason or "transfer", REASON_HEADER)
        req = self.ua.genRequest("REFER", extra_headers=(SipHeader(body=reason_hf),))
        req.appendHeader(SipHeader(name="refer-to",
                                   body=SipReferTo(address=SipAddress(url=SipURL(url=target)))))
        req.appendHeader(SipHeader(name="referred-by", body=SipReferredBy(
            address=SipAddress(url=self.ua.lUri.getUrl()))))
        self.ua.newTransaction(req, resp_cb=self._on_refer_response)

    # --- from sippy ----------------------------------------------------------------------------
    def _emit(self, kind: str, detail: str = "") -> None:
        self._stack.events.leg_event(self, kind, detail)

    def _on_refer_response(self, resp) -> None:
        code = resp.getSCode()[0]
        if code >= 200:
            self._emit("refer", str(code))

    def _on_notify(self, body: str) -> None:
        first = body.strip().splitlines()[0] if body.strip() else ""
        parts = first.split()
        status = parts[1] if len(parts) > 1 else ""
        self._emit("notify", status if status.isascii() and status.isdigit() else "0")

    def _on_event(self, event, ua) -> None:
        if isinstance(event, CCEventTry):
            return  # handled in SippyStack.recv_request, which knows the request
        if isinstance(event, CCEventDisconnect | CCEventFail):
            self._emit("ended", "cancel" if not ua.isConnected() and ua.connect_ts is None
                       else "bye")
        elif isinstance(event, CCEventUpdate):
            self._on_reinvite(event)
        elif isinstance(event, CCEventInfo):
            self._on_info(event)

    def _on_reinvite(self, event) -> None:
        body = event.getData()
        sdp = None
        if body is not None:
            try:
                sdp = self._stack.events.reinvited(self, SdpOffer.parse(str(body)))
            except SdpError as exc:
                self._emit("bad_sdp", str(exc))
        if sdp is None:  # nothing usable: keep the media as it is
            sdp = self.local_sdp
        self.call(lambda: self.ua.recvEvent(CCEventConnect((200, "OK", MsgBody(sdp)))))

    def _on_info(self, event) -> None:
        """SIP INFO DTMF (application/dtmf-relay: ``Signal=5``)."""
        body = event.getData()
        for line in (str(body) if body is not None else "").splitlines():
            key, _, value = line.partition("=")
            if key.strip().lower() == "signal" and value.strip():
                self._emit("dtmf", value.strip()[0])


def _in_networks(source: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(source.strip("[]"))
    except ValueError:
        return False
    return any(address in network for network in networks)


class SippyStack:
    """sippy's transaction manager on one UDP port, with our admission rules for INVITEs."""

    def __init__(self, settings: SipSettings, port: int, events: SignallingEvents) -> None:
        SipConf.my_uaname = "Callbot"
        SipConf.my_port = MyPort(port)
        self.events = events
        self.codecs = settings.codec_preference
        self.networks = [ipaddress.ip_network(cidr, strict=False) for cidr in settings.allowed_sources]
        self.credentials = ((settings.auth_user, settings.auth_password)
                            if settings.auth_user and settings.auth_password else None)
        self.global_config: dict = {"_sip_address": settings.host, "_sip_port": port,
                                    "_sip_logger": _QuietSipLogger()}
        self.contact = None
        if settings.public_address:
            self.contact = SipContact(address=SipAddress(
                url=SipURL(username="callbot", host=settings.public_address, port=port)))
        self.tm = _GuardedTransactionManager(self.global_config, self.recv_request)
        self.global_config["_sip_tm"] = self.tm
        self.registration: SipRegistrationAgent | None = None
        if settings.register_uri:
            self._register(settings, port)

    def _register(self, settings: SipSettings, port: int) -> None:
        """Be an extension of the PBX (REGISTER, digest credentials, renewed before expiry)."""
        registrar = SipURL(url=settings.register_uri)
        user = settings.register_user or "callbot"
        aor = registrar.getCopy()
        aor.username = user
        contact = SipURL(username=user, host=settings.public_address or settings.host, port=port)
        where = f"{registrar.host}:{registrar.port or 5060}"
        self.registration = SipRegistrationAgent(
            self.global_config, aor, contact, user=settings.register_user,
            passw=settings.register_password, exp=settings.register_expires_sec,
            rok_cb=lambda *_: logger.info(f"sip: registered to {where} as {user}"),
            rfail_cb=lambda status, _: logger.warning(
                f"sip: registration to {where} failed ({status}); retrying in 60 s"))
        self.registration.doregister()

    def shutdown(self) -> None:
        if self.registration is not None:
            self.registration.stopregister()
        self.tm.shutdown()

    def _challenge(self, req):
        response = req.genResponse(401, "Unauthorized")
        response.appendHeader(SipHeader(body=SipWWWAuthenticate(realm=AUTH_REALM, algorithm="MD5")))
        return response

    def _authorised(self, authorization) -> bool:
        user, password = self.credentials
        try:
            return authorization.username == user and authorization.verify(password, "INVITE")
        except Exception:  # a garbled Authorization header is a wrong one
            return False

    def recv_request(self, req, sip_t):
        """New transactions outside any dialog (sippy routes in-dialog ones to the UA)."""
        try:
            return self._recv_request(req, sip_t)
        except Exception as exc:  # one bad message must not cost the others
            _report_sippy_error(f"request {req.getMethod()} failed: {type(exc).__name__}")
            return (req.genResponse(500, "Server Internal Error"), None, None)

    def _recv_request(self, req, sip_t):
        source = req.getSource()[0]
        method = req.getMethod()
        if req.getHFBody("to").getTag() is not None:
            return (req.genResponse(481, "Call Leg/Transaction Does Not Exist"), None, None)
        if method == "OPTIONS":  # a proxy's probe: a draining bot is taken out of its rotation
            status = (200, "OK") if self.events.available() else (503, "Service Unavailable")
            return (req.genResponse(*status), None, None)
        if method != "INVITE":
            return (req.genResponse(501, "Not Implemented"), None, None)
        refusal = self._check_invite(req, source)
        if refusal == CHALLENGE:
            return (self._challenge(req), None, None)
        if refusal is not None:
            self.events.refused(source, *refusal)
            return (req.genResponse(*refusal), None, None)
        body = req.getBody()
        try:
            offer = SdpOffer.parse(str(body) if body is not None else "")
        except SdpError as exc:
            self.events.refused(source, 488, f"unusable SDP: {exc}")
            return (req.genResponse(488, "Not Acceptable Here"), None, None)
        if offer.choose_codec(self.codecs) is None:
            self.events.refused(source, 488, f"none of {', '.join(self.codecs)} offered")
            return (req.genResponse(488, "Not Acceptable Here"), None, None)
        admission = self.events.admit(source)  # last: capacity is checked for usable calls only
        if admission.code:
            self.events.refused(source, admission.code, admission.reason)
            return (req.genResponse(admission.code, admission.reason), None, None)
        leg = SipCallLeg(self)
        leg.call_id = str(req.getHFBody("call-id"))
        result = leg.ua.recvRequest(req, sip_t)
        caller = req.getHFBody("from").getUrl().username
        self.events.offered(leg, offer, caller)
        return result

    def _check_invite(self, req, source: str) -> tuple[int, str] | None:
        """None to go on, else the refusal (``CHALLENGE``: ask for digest credentials)."""
        if self.networks and not _in_networks(source, self.networks):
            if self.credentials is None:
                return (403, "Forbidden")
            if req.countHFs("authorization") == 0:
                return CHALLENGE
            if not self._authorised(req.getHFBody("authorization")):
                return (403, "Forbidden")
        for name in REQUIRED_HEADERS:
            if req.countHFs(name) == 0:
                return (400, f"Missing {name.title()} Header")
        return None
