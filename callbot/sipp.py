"""Drive sipp (Debian ``sip-tester``) as the calling side: for ``callbot bench sip`` and the
SIP scale-out tests.

Each call of ``telephony/sipp/bench_call.xml`` streams caller audio (headerless G.711 µ-law,
made here from the French clips) and ends after ``call_sec`` unless the bot hangs up or
transfers first. Figures come from sipp's own files: the final call counters (``-trace_stat``)
and the time of each message (``-trace_msg``, to the microsecond: its ``-trace_rtt`` counts in
steps of a few milliseconds), from which set-up is INVITE sent → 200 OK received.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from callbot.bridge import g711
from callbot.speech.audio import read_wav, silence

SCENARIO = Path(__file__).resolve().parent.parent / "telephony" / "sipp" / "bench_call.xml"
CLIPS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "audio"
CALLER_AUDIO = "caller.ul"
#: The scenario's default call length, replaced by the one asked for.
_CALL_MS_ATTR = 'timeout="60000"'
PAUSE_BETWEEN_CLIPS_SEC = 2.0
#: RFC 4733 key presses sipp ships as captures (Debian sip-tester), played into the call.
DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{key}.pcap"
_STREAM = '<exec rtp_stream="caller.ul,-1,0"/>'
#: Beyond the calls themselves: set-up, transfer and hang-up.
SLACK_SEC = 60


def sipp_available() -> bool:
    return shutil.which("sipp") is not None


def write_caller_audio(path: Path, pattern: str = "fr_*.wav") -> Path:
    """The French clips, each followed by a pause (the bot answers in it), as µ-law."""
    pcm = b""
    for clip in sorted(CLIPS.glob(pattern)):
        audio, rate = read_wav(clip)
        pcm += audio + silence(PAUSE_BETWEEN_CLIPS_SEC, rate)
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
    output: str = ""


_BLOCK = re.compile(r"^-{20,} (\S+ \S+)\n(?:UDP|TCP) message (sent|received)[^\n]*\n+([^\n]*)\n(.*?)"
                    r"(?=^-{20,} |\Z)", re.M | re.S)
_CALL_ID = re.compile(r"^Call-ID:\s*(\S+)", re.M | re.I)
_CSEQ = re.compile(r"^CSeq:\s*\d+\s+(\w+)", re.M | re.I)


def setup_times_ms(messages_log: str) -> list[float]:
    """INVITE sent → first 200 OK to it received, per call, from sipp's ``-trace_msg`` log."""
    invited: dict[str, datetime] = {}
    answered: dict[str, datetime] = {}
    for stamp, direction, first_line, rest in _BLOCK.findall(messages_log):
        call_id, cseq = _CALL_ID.search(rest), _CSEQ.search(rest)
        if call_id is None or cseq is None or cseq.group(1) != "INVITE":
            continue
        at = datetime.fromisoformat(stamp)
        if direction == "sent" and first_line.startswith("INVITE"):
            invited.setdefault(call_id.group(1), at)
        elif direction == "received" and first_line.startswith("SIP/2.0 200"):
            answered.setdefault(call_id.group(1), at)
    return [(answered[c] - invited[c]).total_seconds() * 1000 for c in invited if c in answered]


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


def _scenario(call_sec: float, press: tuple[str, float] | None) -> str:
    """bench_call.xml with this call length, and a key pressed after some seconds if asked."""
    text = SCENARIO.read_text().replace(_CALL_MS_ATTR, f'timeout="{int(call_sec * 1000)}"')
    if press is not None:
        key, after_sec = press
        text = text.replace(_STREAM, f"""{_STREAM}
    </action>
  </nop>
  <pause milliseconds="{int(after_sec * 1000)}"/>
  <nop>
    <action>
      <exec play_pcap_audio="{DTMF_PCAP.format(key=key)}"/>""")
    return text


def run_calls(target: str, workdir: Path, *, calls: int, concurrent: int, call_sec: float,
              rate_per_sec: float = 5.0, sip_port: int, media_port: int,
              service: str = "callbot", press: tuple[str, float] | None = None) -> SippRun:
    """Place ``calls`` calls to ``target`` (host:port), at most ``concurrent`` at a time.

    ``press=("0", 3.0)``: every caller presses 0 three seconds into the call (RFC 4733).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "call.xml"
    scenario.write_text(_scenario(call_sec, press))
    if not (workdir / CALLER_AUDIO).exists():
        write_caller_audio(workdir / CALLER_AUDIO)
    host = target.rsplit(":", 1)[0]
    command = ["sipp", target, "-sf", scenario.name, "-s", service,
               "-i", host, "-p", str(sip_port), "-mi", host, "-mp", str(media_port),
               "-m", str(calls), "-l", str(concurrent), "-r", str(rate_per_sec),
               "-trace_msg", "-trace_stat", "-fd", "1",
               "-timeout", f"{int(call_sec * (calls / concurrent + 1) + SLACK_SEC)}s",
               "-timeout_error", "-nostdin"]
    process = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    counters = _read_counters(workdir)
    return SippRun(returncode=process.returncode,
                   offered=counters.get("OutgoingCall", 0),
                   successful=counters.get("SuccessfulCall", 0),
                   failed=counters.get("FailedCall", 0),
                   setup_ms=setup_times_ms("".join(
                       p.read_text(errors="replace") for p in workdir.glob("*_messages.log"))),
                   output=process.stdout[-4000:] + process.stderr[-2000:])
