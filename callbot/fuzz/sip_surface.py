"""Hostile SIP over the wire: mutated datagrams sent to a running ``callbot serve``'s SIP port.

The seeds are valid requests of every method the endpoint may meet (and an SDP offer), plus
SIP-aware variants of them (a header deleted, doubled or huge, a lying Content-Length, a body
of absurd SDP, an unknown method, invalid UTF-8, a 64 KB datagram); the benchmark's byte
mutator (``callbot.fuzz.mutate``) then works on those. Each input gets a Call-ID of its own
(``FZID`` in the seeds), so a reply is told apart from the others' and from retransmissions.
An input's outcome is the status of the reply (``reply_400``…); else why none was due
(``ack``, ``too_short``, ``stray_response``, ``repeated``: sippy's retransmission cache,
``via_elsewhere``: the answer went to the mutated Via); else ``no_reply``, or, when the
caller can see the server's log, ``logged`` (dropped with a log line), ``silent_oversized``
(over 8 KB: the kernel may drop it before sippy reads) or ``silent`` (a bug).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable

from callbot.fuzz.surface import Surface
from callbot.sip.local_udp import LoopbackUdpEndpoint

#: The largest UDP payload over IPv4.
MAX_DATAGRAM = 65_507
#: sippy reads this much of a datagram (the rest is cut off by recvfrom).
SIPPY_READ_BYTES = 8192
#: sippy ignores shorter datagrams (CRLF keepalives): no reply, no log line, by design.
SIPPY_MIN_DATAGRAM = 32
METHODS = ("INVITE", "OPTIONS", "BYE", "REFER", "NOTIFY", "INFO", "CANCEL", "ACK", "REGISTER")
SDP = ("v=0\r\no=fuzz 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n")
BODIES = {"INVITE": ("application/sdp", SDP), "INFO": ("application/dtmf-relay", "Signal=0\r\n"),
          "NOTIFY": ("message/sipfrag", "SIP/2.0 200 OK\r\n")}
TOKENS = (b"\r\n", b"\r\n\r\n", b": ", b";tag=", b";branch=z9hG4bK", b"<sip:", b">", b"@",
          b"SIP/2.0", b"Content-Length: ", b"m=audio ", b"RTP/AVP ", b"a=rtpmap:", b"c=IN IP4 ",
          b"\xc3\x28", b"\xff", b"%00", b"To: <sip:x@y>;tag=", b"CSeq: 4294967296 INVITE")
_ABSURD_SDP = ("m=audio 99999999 RTP/AVP 0\r\n", "m=audio -1 RTP/AVP 0\r\n",
               "m=audio 40000 RTP/AVP " + " ".join(str(n % 128) for n in range(600)) + "\r\n",
               "m=audio 40000/2 RTP/AVP 0\r\n" * 300, "m=video 40002 RTP/AVP 96\r\n",
               "a=rtpmap:0 PCMU/0\r\n", "c=IN IP6 ::::\r\n", "m=audio 40000 UDP/TLS/RTP/SAVP 0\r\n")
_CALL_ID = re.compile(rb"fz-(\d+)@")


def request(method: str, port: int, here: int, in_dialog: bool = False) -> str:
    """A valid request of ``method`` from 127.0.0.1:``here``; ``FZID`` marks its Call-ID."""
    content_type, body = BODIES.get(method, ("", ""))
    to_tag = ";tag=fz-dialog" if in_dialog else ""
    lines = [f"{method} sip:callbot@127.0.0.1:{port} SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bKfzFZID;rport",
             f"From: \"Fuzz\" <sip:0600000000@127.0.0.1:{here}>;tag=fzFZID",
             f"To: <sip:callbot@127.0.0.1:{port}>{to_tag}",
             "Call-ID: fz-FZID@127.0.0.1", f"CSeq: 1 {method}",
             f"Contact: <sip:fuzz@127.0.0.1:{here}>", "Max-Forwards: 70"]
    if method == "REFER":
        lines.append("Refer-To: <sip:standard@127.0.0.1:5999>")
    if method == "NOTIFY":
        lines += ["Event: refer", "Subscription-State: terminated;reason=noresource"]
    if method == "REGISTER":
        lines.append("Expires: 3600")
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def structural(message: str, rng: random.Random) -> bytes:
    """One SIP-aware change: what a broken or hostile peer sends, not random bytes."""
    head, _, body = message.partition("\r\n\r\n")
    lines = head.split("\r\n")
    pick = rng.randrange(1, len(lines))
    kind = rng.randrange(10)
    if kind == 0:  # a header missing
        del lines[pick]
    elif kind == 1:  # a header twice (or ten times), maybe with another value
        lines[pick:pick] = [lines[pick]] * rng.choice((1, 9)) + [lines[pick] + "x"]
    elif kind == 2:  # a huge header
        lines[pick] += "a" * rng.choice((1000, 8000, 60000))
    elif kind == 3:  # a lying Content-Length
        lines = [line for line in lines if not line.startswith("Content-Length")]
        lines.append(f"Content-Length: {rng.choice(('-1', '99999', 'abc', '0', '4294967297', ''))}")
    elif kind == 4:  # an unknown or garbled method
        lines[0] = rng.choice(("FOO", "INVITEX", "", "invite", "SIP/2.0")) + lines[0][lines[0].find(" "):]
    elif kind == 5:  # absurd SDP
        body = body + rng.choice(_ABSURD_SDP) if body else SDP + rng.choice(_ABSURD_SDP)
    elif kind == 6:  # invalid UTF-8 in a header
        return ("\r\n".join(lines[:pick]) + "\r\n").encode() + b"X-Bad: \xff\xfe\xc3(\r\n" + \
            ("\r\n".join(lines[pick:]) + "\r\n\r\n" + body).encode()
    elif kind == 7:  # a 64 KB datagram
        lines.insert(pick, "X-Padding: " + "p" * (MAX_DATAGRAM - len(message) - 20))
    elif kind == 8:  # cut short
        cut = ("\r\n".join(lines) + "\r\n\r\n" + body)
        return cut[:rng.randrange(len(cut))].encode()
    else:  # many headers
        lines[pick:pick] = [f"X-H{n}: {n}" for n in range(rng.choice((100, 1000)))]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()[:MAX_DATAGRAM]


def seeds(port: int, here: int, variants: int = 400, seed: int = 0) -> tuple[bytes, ...]:
    """Valid requests (in and out of a dialog), then ``variants`` SIP-aware changes of them."""
    rng = random.Random(seed)
    valid = [request(m, port, here, in_dialog) for m in METHODS for in_dialog in (False, True)]
    return (*(v.encode() for v in valid), *(structural(rng.choice(valid), rng) for _ in range(variants)))


class SipWire(LoopbackUdpEndpoint):
    """One UDP socket: sends inputs, hands each reply to the input whose Call-ID it carries."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.waiting: dict[int, asyncio.Future[bytes]] = {}
        self.provisional: dict[int, bytes] = {}
        self.silent: list[bytes] = []  # the first inputs dropped without a log line
        self.replies = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Final replies settle the input's future; a provisional one only if nothing follows."""
        self.replies += 1
        match = _CALL_ID.search(data)
        future = self.waiting.get(int(match.group(1))) if match else None
        if future is None or future.done() or not data.startswith(b"SIP/2.0 "):
            return
        if data[8:9] != b"1":
            future.set_result(data)
        else:
            self.provisional[int(match.group(1))] = data

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data[:MAX_DATAGRAM], ("127.0.0.1", self.port))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def needs_no_answer(data: bytes) -> str | None:
    """Why a datagram may go unanswered and unlogged (RFC 3261 or sippy's rules), else None."""
    if len(data) < SIPPY_MIN_DATAGRAM:
        return "too_short"
    if data.startswith(b"SIP/2.0 "):
        return "stray_response"  # a response outside any transaction is dropped
    if data.startswith(b"ACK "):
        return "ack"  # an ACK is never answered
    return None


def _via_is_ours(data: bytes, here: int) -> bool:
    """The first Via, as the seeds wrote it: an answer would come back to this socket."""
    return re.search(rb"\r\nVia: SIP/2\.0/UDP 127\.0\.0\.1:%d;branch=z9hG4bKfz\d+;rport\r\n"
                     % here, data) is not None and data.count(b"\nVia:") == 1


def _reply(wire: SipWire, number: int, future: asyncio.Future[bytes]) -> str | None:
    reply = future.result() if future.done() else wire.provisional.get(number)
    return f"reply_{reply[8:11].decode(errors='replace')}" if reply is not None else None


def sip_surface(wire: SipWire, here: int, reply_sec: float = 0.1,
                log_lines: Callable[[], int] | None = None, concurrency: int = 16) -> Surface:
    """``log_lines`` (the server log's line count) turns ``no_reply`` into ``logged``/``silent``."""
    counter = iter(range(10**12))
    sent: set[bytes] = set()

    async def feed(data: bytes) -> str:
        number = next(counter)
        data = data.replace(b"FZID", str(number).encode())[:MAX_DATAGRAM]
        digest = hashlib.md5(data).digest()  # noqa: S324 - sippy's retransmission key
        repeated = digest in sent
        sent.add(digest)
        lines_before = log_lines() if log_lines else 0
        future = wire.waiting[number] = asyncio.get_running_loop().create_future()
        wire.send(data)
        try:
            with contextlib.suppress(TimeoutError):  # checked: the log may tell sooner
                await asyncio.wait_for(asyncio.shield(future), 0.05 if log_lines else reply_sec)
            if (reply := _reply(wire, number, future)) is not None:
                return reply
            if repeated:  # sippy's retransmission cache: as the first time (maybe nothing)
                return "repeated"
            if why := needs_no_answer(data):
                return why
            if log_lines is None:
                return "no_reply"
            for _ in range(100):  # a late reply, or the log line (the log reader may lag)
                if (reply := _reply(wire, number, future)) is not None:
                    return reply
                if log_lines() > lines_before:
                    return "logged"
                await asyncio.sleep(0.02)
            if not _via_is_ours(data, here):  # answers go to the Via (RFC 3261 §18.2.2)
                return "via_elsewhere"
            if len(data) > SIPPY_READ_BYTES:  # a third of the default receive buffer: the
                return "silent_oversized"  # kernel drops it if anything else is queued
            if len(wire.silent) < 20:
                wire.silent.append(data[:500])
            return "silent"
        finally:
            del wire.waiting[number]
            wire.provisional.pop(number, None)

    return Surface("sip", feed, seeds(wire.port, here), TOKENS, concurrency=concurrency,
                   hang_sec=reply_sec + 5, close=None)  # checked: up to ~2 s for the log


async def flood(wire: SipWire, here: int, count: int, wait_sec: float = 5.0) -> Counter[str]:
    """``count`` good INVITEs at once from one source: final replies by status (``none``: lost)."""
    loop = asyncio.get_running_loop()
    invite = request("INVITE", wire.port, here).encode()
    futures = {}
    for number in range(10**9, 10**9 + count):  # far from the fuzz inputs' numbers
        futures[number] = wire.waiting[number] = loop.create_future()
        wire.send(invite.replace(b"FZID", str(number).encode()))
        if number % 10 == 0:  # at most ~1000/s: past the kernel's socket buffer, a burst
            await asyncio.sleep(0.01)  # would be bounded by drops, not by the endpoint
    await asyncio.wait(futures.values(), timeout=wait_sec)
    codes: Counter[str] = Counter()
    for number, future in futures.items():
        del wire.waiting[number]
        wire.provisional.pop(number, None)
        codes[future.result()[8:11].decode() if future.done() else "none"] += 1
    return codes
