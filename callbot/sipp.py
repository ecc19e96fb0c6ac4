"""Drive sipp (Debian ``sip-tester``) as the calling side: for ``callbot bench sip``,
``callbot bench load --transport sip`` and the SIP scale-out tests.

Each call of ``telephony/sipp/bench_call.xml`` streams caller audio (headerless G.711 µ-law,
made here from the French clips) and ends after ``call_sec`` unless the bot hangs up or
transfers first. Figures come from sipp's own files: the final call counters (``-trace_stat``)
and the time of each message (``-trace_msg``, to the microsecond: its ``-trace_rtt`` counts in
steps of a few milliseconds), from which set-up is INVITE sent → 200 OK received, and the
INVITE's final status (486: the bot was full and refused the call cleanly; sipp ACKs it and
counts the call failed).

``run_calls`` runs one sipp for a batch of calls; ``place_call`` runs one sipp for one call, so
that ``callbot bench load`` can start calls at any arrival times (Poisson) and tell each call's
outcome apart.
"""

from __future__ import annotations

import asyncio
import csv
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from callbot.bridge import g711
from callbot.sip.codecs import G722_CODEC
from callbot.speech.audio import read_wav, resample_pcm16, silence

SCENARIO = Path(__file__).resolve().parent.parent / "telephony" / "sipp" / "bench_call.xml"
CLIPS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "audio"
CALLER_AUDIO = "caller.ul"
#: The scenario's default call length, replaced by the one asked for.
_CALL_MS_ATTR = 'timeout="60000"'
PAUSE_BETWEEN_CLIPS_SEC = 2.0
#: RFC 4733 key presses sipp ships as captures (Debian sip-tester), played into the call.
DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{key}.pcap"
_STREAM = '<exec rtp_stream="caller.ul,-1,0"/>'
#: The scenario's calling number (the bot logs it pseudonymised); a per-call one replaces it.
_CALLER = "+3361234[call_number]"
#: What the caller offers and streams, by codec (``callbot bench sip --codec``): its payload
#: type, SDP name and the audio file of its rtp_stream (sipp 3.6 streams payload type 9 as
#: 160 bytes per 20 ms on an 8000 Hz clock, as RFC 3551 wants G.722).
CALLER_CODECS = {"pcmu": (0, "PCMU", CALLER_AUDIO), "g722": (9, "G722", "caller.g722")}
#: Beyond the calls themselves: set-up, transfer and hang-up.
SLACK_SEC = 60
#: sipp's exit beyond its own ``-timeout``: then it is killed.
KILL_AFTER_SEC = 30


def sipp_available() -> bool:
    return shutil.which("sipp") is not None


def write_caller_audio(path: Path, pattern: str = "fr_*.wav", codec: str = "pcmu") -> Path:
    """The French clips, each followed by a pause (the bot answers in it), as µ-law or G.722."""
    pcm, rate = b"", 8000
    for clip in sorted(CLIPS.glob(pattern)):
        audio, rate = read_wav(clip)
        pcm += audio + silence(PAUSE_BETWEEN_CLIPS_SEC, rate)
    if codec == "g722":  # 16 kHz audio, though the clips are narrowband
        path.write_bytes(G722_CODEC.coder().encode(resample_pcm16(pcm, rate, G722_CODEC.sample_rate_hz)))
    else:
        path.write_bytes(g711.encode(pcm, "ulaw"))
    return path


@dataclass
class SippRun:
    """What sipp reported for one run."""

    returncode: int
    offered: int = 0
    successful: int = 0
    failed: int = 0
    setup_ms: list[float] = field(default_factory=list)
    #: Final status of each INVITE (200 answered, 486 busy…); none for a call never answered.
    statuses: list[int] = field(default_factory=list)
    output: str = ""


_BLOCK = re.compile(r"^-{20,} (\S+ \S+)\n(?:UDP|TCP) message (sent|received)[^\n]*\n+([^\n]*)\n(.*?)"
                    r"(?=^-{20,} |\Z)", re.M | re.S)
_CALL_ID = re.compile(r"^Call-ID:\s*(\S+)", re.M | re.I)
_CSEQ = re.compile(r"^CSeq:\s*\d+\s+(\w+)", re.M | re.I)


@dataclass
class InviteExchange:
    """One call's INVITE as sipp logged it: when it left, and its first final response."""

    sent_at: datetime
    status: int | None = None
    answered_at: datetime | None = None


def invite_exchanges(messages_log: str) -> dict[str, InviteExchange]:
    """Call-ID → its INVITE exchange, from sipp's ``-trace_msg`` log."""
    calls: dict[str, InviteExchange] = {}
    for stamp, direction, first_line, rest in _BLOCK.findall(messages_log):
        call_id, cseq = _CALL_ID.search(rest), _CSEQ.search(rest)
        if call_id is None or cseq is None or cseq.group(1) != "INVITE":
            continue
        at, key = datetime.fromisoformat(stamp), call_id.group(1)
        if direction == "sent" and first_line.startswith("INVITE"):
            calls.setdefault(key, InviteExchange(at))
        elif direction == "received" and (status := _final_status(first_line)) is not None:
            exchange = calls.get(key)
            if exchange is not None and exchange.status is None:
                exchange.status, exchange.answered_at = status, at
    return calls


def _final_status(status_line: str) -> int | None:
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith("SIP/2.0") or not parts[1].isdigit():
        return None
    return int(parts[1]) if int(parts[1]) >= 200 else None


def setup_times_ms(messages_log: str) -> list[float]:
    """INVITE sent → 200 OK to it received, per call, from sipp's ``-trace_msg`` log."""
    return _setup_ms(invite_exchanges(messages_log))


def _setup_ms(exchanges: dict[str, InviteExchange]) -> list[float]:
    return [(c.answered_at - c.sent_at).total_seconds() * 1000 for c in exchanges.values()
            if c.status == 200 and c.answered_at is not None]


def _read_counters(workdir: Path) -> dict[str, int]:
    rows: list[dict[str, str]] = []
    for path in workdir.glob("*_.csv"):
        with path.open() as handle:
            rows.extend(csv.DictReader(handle, delimiter=";"))
    if not rows:
        return {}
    last = rows[-1]
    return {name: int(last.get(f"{name}(C)") or 0)
            for name in ("OutgoingCall", "SuccessfulCall", "FailedCall")}


def _scenario(call_sec: float, press: tuple[str, float] | None, caller: str | None = None,
              codec: str = "pcmu") -> str:
    """bench_call.xml with this call length and codec, and a key pressed after some seconds if
    asked."""
    text = SCENARIO.read_text().replace(_CALL_MS_ATTR, f'timeout="{int(call_sec * 1000)}"')
    if caller is not None:
        text = text.replace(_CALLER, caller)
    if press is not None:
        key, after_sec = press
        text = text.replace(_STREAM, f"""{_STREAM}
    </action>
  </nop>
  <pause milliseconds="{int(after_sec * 1000)}"/>
  <nop>
    <action>
      <exec play_pcap_audio="{DTMF_PCAP.format(key=key)}"/>""")
    if codec != "pcmu":
        pt, name, audio = CALLER_CODECS[codec]
        text = (text.replace("RTP/AVP 0 101", f"RTP/AVP {pt} 101")
                .replace("a=rtpmap:0 PCMU/8000", f"a=rtpmap:{pt} {name}/8000")
                .replace(_STREAM, f'<exec rtp_stream="{audio},-1,{pt}"/>'))
    return text


def _prepare(workdir: Path, call_sec: float, press: tuple[str, float] | None,
             caller: str | None, audio: Path | None, codec: str = "pcmu") -> None:
    """The scenario and the caller's audio (a link to ``audio`` if given: made once, not per call)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "call.xml").write_text(_scenario(call_sec, press, caller, codec))
    target = workdir / CALLER_CODECS[codec][2]
    if not target.exists():
        if audio is not None:
            target.symlink_to(audio.resolve())
        else:
            write_caller_audio(target, codec=codec)


def _command(target: str, *, calls: int, concurrent: int, rate_per_sec: float, timeout_sec: float,
             sip_port: int, media_port: int, service: str) -> list[str]:
    host = target.rsplit(":", 1)[0]
    return ["sipp", target, "-sf", "call.xml", "-s", service,
            "-i", host, "-p", str(sip_port), "-mi", host, "-mp", str(media_port),
            "-m", str(calls), "-l", str(concurrent), "-r", str(rate_per_sec),
            "-trace_msg", "-trace_stat", "-fd", "1",
            "-timeout", f"{int(timeout_sec)}s", "-timeout_error", "-nostdin"]


def _collect(workdir: Path, returncode: int, output: str) -> SippRun:
    """What sipp left in ``workdir``: its counters and its message log."""
    counters = _read_counters(workdir)
    exchanges = invite_exchanges("".join(p.read_text(errors="replace")
                                         for p in workdir.glob("*_messages.log")))
    return SippRun(returncode=returncode,
                   offered=counters.get("OutgoingCall", 0),
                   successful=counters.get("SuccessfulCall", 0),
                   failed=counters.get("FailedCall", 0),
                   setup_ms=_setup_ms(exchanges),
                   statuses=[c.status for c in exchanges.values() if c.status is not None],
                   output=output)


def run_calls(target: str, workdir: Path, *, calls: int, concurrent: int, call_sec: float,
              rate_per_sec: float = 5.0, sip_port: int, media_port: int,
              service: str = "callbot", press: tuple[str, float] | None = None,
              codec: str = "pcmu") -> SippRun:
    """Place ``calls`` calls to ``target`` (host:port), at most ``concurrent`` at a time.

    ``press=("0", 3.0)``: every caller presses 0 three seconds into the call (RFC 4733).
    ``codec="g722"``: the callers offer G.722 alone and stream it.
    """
    _prepare(workdir, call_sec, press, None, None, codec)
    command = _command(target, calls=calls, concurrent=concurrent, rate_per_sec=rate_per_sec,
                       timeout_sec=call_sec * (calls / concurrent + 1) + SLACK_SEC,
                       sip_port=sip_port, media_port=media_port, service=service)
    process = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    return _collect(workdir, process.returncode, process.stdout[-4000:] + process.stderr[-2000:])


async def place_call(target: str, workdir: Path, *, call_sec: float, sip_port: int,
                     media_port: int, caller: str, audio: Path | None = None,
                     service: str = "callbot") -> SippRun:
    """One call from ``caller``, by a sipp of its own that gives up after the call's own length
    plus ``SLACK_SEC`` (whatever the other calls do): for arrivals at any times."""
    _prepare(workdir, call_sec, None, caller, audio)
    timeout_sec = call_sec + SLACK_SEC
    command = _command(target, calls=1, concurrent=1, rate_per_sec=1.0, timeout_sec=timeout_sec,
                       sip_port=sip_port, media_port=media_port, service=service)
    process = await asyncio.create_subprocess_exec(
        *command, cwd=workdir, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_sec + KILL_AFTER_SEC)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
    assert process.returncode is not None
    return _collect(workdir, process.returncode, output.decode(errors="replace")[-2000:])
