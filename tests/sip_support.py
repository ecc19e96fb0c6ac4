"""Helpers of the SIP tests: run a real sipp scenario, and be the caller's RTP end.

sipp plays the signalling; ``RtpPeer`` stands where the caller's phone would send and receive
RTP (the scenarios announce it with ``-key rtp_port``), so the tests can send DTMF and the
caller's words and look at every packet the bot sends back.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from callbot.bridge import g711
from callbot.config import REPO_ROOT
from callbot.sip.local_udp import LoopbackUdpEndpoint
from callbot.sip.rtp_wire import (
    SAMPLES_PER_PACKET,
    RtpPacket,
    TelephoneEvent,
)

SCENARIOS = REPO_ROOT / "telephony" / "sipp"
EVENT_PT = 101
SPEECH_RMS = 300.0  # 16-bit PCM; the bot's silence decodes to 0 (µ-law) or 8 (A-law)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def options_status(port: int) -> int | None:
    """The status a SIP endpoint on 127.0.0.1:``port`` answers an OPTIONS probe with (a
    proxy's keep-alive, as Kamailio's dispatcher sends it); None without an answer."""
    branch = uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.bind(("127.0.0.1", 0))
        probe = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                 f"Via: SIP/2.0/UDP 127.0.0.1:{sock.getsockname()[1]};branch=z9hG4bK{branch}\r\n"
                 f"From: <sip:test@127.0.0.1>;tag={branch[:8]}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
                 f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                 "Content-Length: 0\r\n\r\n")
        sock.sendto(probe.encode(), ("127.0.0.1", port))
        try:
            return int(sock.recv(4096).split()[1])
        except TimeoutError:
            return None


@dataclass
class SippRun:
    returncode: int
    messages: str  # sipp's -trace_msg file
    logs: str  # sipp's -trace_logs file (<log> actions)
    stderr: str


async def run_sipp(scenario: str, port: int, workdir: Path, *args: str, local_ip: str = "127.0.0.1",
                   timeout_sec: float = 60, keys: dict[str, str] | None = None) -> SippRun:
    """One sipp run (``-m 1`` unless ``args`` say otherwise) against 127.0.0.1:``port``."""
    stem = f"{Path(scenario).stem}-{time.monotonic_ns()}"
    messages, logs = workdir / f"{stem}.msg", workdir / f"{stem}.log"
    command = ["sipp", "-sf", str(SCENARIOS / scenario), "-i", local_ip, "-p", str(free_udp_port()),
               "-mp", str(free_udp_port()), "-nostdin",
               "-trace_msg", "-message_file", str(messages), "-trace_logs", "-log_file", str(logs),
               "-timeout", f"{int(timeout_sec)}s", "-timeout_error", "-max_recv_loops", "100",
               *(["-m", "1"] if "-m" not in args else []), *args]
    for key, value in (keys or {}).items():
        command += ["-key", key, value]
    command.append(f"127.0.0.1:{port}")
    process = await asyncio.create_subprocess_exec(*command, cwd=workdir, stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.PIPE)
    _, stderr = await process.communicate()
    read = lambda path: path.read_text(errors="replace") if path.exists() else ""  # noqa: E731
    return SippRun(process.returncode or 0, read(messages), read(logs), stderr.decode(errors="replace"))


def final_status(messages: str) -> int | None:
    """The last final status code sipp received for its INVITE."""
    codes = [int(line.split()[1]) for line in messages.splitlines()
             if line.startswith("SIP/2.0 ") and line.split()[1].isdigit()]
    finals = [code for code in codes if code >= 200]
    return finals[-1] if finals else None


@dataclass
class RtpPeer(LoopbackUdpEndpoint):
    """The caller's RTP end: records what the bot sends, sends audio/DTMF back to it."""

    payload_type: int = 0
    received: list[tuple[float, RtpPacket]] = field(default_factory=list)
    bot_address: tuple[str, int] | None = None
    bot_heard: asyncio.Event = field(default_factory=asyncio.Event)
    sequence: int = 1000
    timestamp: int = 160000

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append((time.time(), RtpPacket.parse(data)))
        self.bot_address = addr
        self.bot_heard.set()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def wait_for_bot(self, timeout_sec: float = 20) -> None:
        await asyncio.wait_for(self.bot_heard.wait(), timeout_sec)

    def _send(self, payload_type: int, payload: bytes, marker: bool = False,
              advance: bool = True) -> None:
        assert self.transport is not None and self.bot_address is not None
        packet = RtpPacket(payload_type, self.sequence, self.timestamp, 0x1234, payload, marker)
        self.transport.sendto(bytes(packet), self.bot_address)
        self.sequence += 1
        if advance:
            self.timestamp += SAMPLES_PER_PACKET

    async def send_audio(self, payload: bytes) -> None:
        """G.711 bytes at real time, 20 ms a packet."""
        started = time.monotonic()
        for index in range(0, len(payload), SAMPLES_PER_PACKET):
            self._send(self.payload_type, payload[index:index + SAMPLES_PER_PACKET])
            await asyncio.sleep(max(0.0, started + (index // SAMPLES_PER_PACKET + 1) * 0.02
                                    - time.monotonic()))

    async def send_silence(self, seconds: float) -> None:
        silence = (b"\xff" if self.payload_type == 0 else b"\xd5") * SAMPLES_PER_PACKET
        await self.send_audio(silence * int(seconds * 50))

    async def press(self, digit: str) -> None:
        """One key press as RFC 4733 sends it: 3 updates, then the end packet 3 times."""
        event = "0123456789*#".index(digit)
        for step in range(1, 4):
            self._send(EVENT_PT, bytes(TelephoneEvent(event, duration=160 * step)),
                       marker=step == 1, advance=False)
            await asyncio.sleep(0.02)
        for _ in range(3):
            self._send(EVENT_PT, bytes(TelephoneEvent(event, end=True, duration=640)), advance=False)
        self.timestamp += 640

    def speech_packets(self, codec: str = "ulaw", after: float = 0.0) -> int:
        """Packets (received after ``after``, a time.time()) that carry sound, not the silence
        the bot sends while it listens."""
        return sum(1 for at, packet in self.received
                   if at > after and packet.payload_type == self.payload_type
                   and rms(g711.decode(packet.payload, codec)) > SPEECH_RMS)


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
