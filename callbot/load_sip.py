"""``callbot bench load --transport sip``: the load bench's callers over SIP, one sipp per call.

Why one sipp per call: the peak's arrivals are random (Poisson) and sipp's own call rate is
constant; a sipp of its own also gives each call its own outcome and its own time limit (the
call's length plus a margin, whatever the other calls do). Each caller streams the French clips
(µ-law, in a loop) for ``--call-sec`` seconds and hangs up, unless the bot ends the call or
transfers it first (both count as completed); the bot is told to keep talking whatever the test
models make of the clips (``KEEP_TALKING_ENV``), so every call lasts as long as asked.

Outcomes come from sipp's message log: INVITE answered 200 and the call ended cleanly:
completed; 486 Busy Here (the bot at capacity): refused; anything else: failed. The bot's RTP is
judged where the callers receive it (``callbot.rtp_capture``, as ``callbot bench sip``: late or
missing packets), and each answered caller's call must be in the call log, found by the
pseudonym of its calling number (distinct per call), closed, with its turns (the greeting at
least: SIP callers do not receive the turn reports the WebSocket callers count).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from loguru import logger

from callbot.config import Settings
from callbot.load_common import PhaseAudio, caller_number, no_call_log, read_call_log
from callbot.nlu.evaluation import percentile
from callbot.privacy import pseudonymise
from callbot.rtp_capture import RtpCapture, StreamStats, late_or_missing_ratio
from callbot.sip_bench import KEEP_TALKING_ENV, caller_media_port, free_udp_ports, sip_server
from callbot.sipp import SippRun, place_call, write_caller_audio
from callbot.voice_server import VoiceServer

#: How long a caller stays on the line unless ``--call-sec`` says otherwise.
SIP_CALL_SEC = 40.0
#: The bench's own pseudonym key: it recomputes the callers' pseudonyms to find their records.
PSEUDONYM_KEY = "callbot-load-bench"
BUSY = 486
#: sipp's exit status when it cannot bind its SIP or media socket, and how often we try.
SIPP_CANNOT_BIND = 254
PORT_TRIES = 3


def sip_outcome(run: SippRun) -> str:
    """``completed``, ``refused`` (486) or ``failed:<why>``, for a sipp that placed one call."""
    if not run.statuses:
        return "failed:no_answer" if run.offered else f"failed:sipp_exit_{run.returncode}"
    status = run.statuses[0]
    if status == BUSY:
        return "refused"
    if status != 200:
        return f"failed:sip_{status}"
    return "completed" if run.successful == 1 else "failed:dropped"


class SipLoad:
    """The callers: sipp processes against the bot's SIP endpoint, its RTP captured."""

    name = "sip"

    def __init__(self, port: int, rtp: tuple[int, int], workdir: Path, call_sec: float,
                 capture: RtpCapture | None) -> None:
        self.target, self.rtp, self.workdir = f"127.0.0.1:{port}", rtp, workdir
        self.length_sec, self.capture = call_sec, capture
        self.audio = write_caller_audio(workdir / "caller.ul")  # once, linked into each call's
        self.answered: list[str] = []  # calling numbers whose INVITE the bot answered
        self.kept: list[Path] = []  # sipp's files of the calls that failed
        self._setup_ms: list[float] = []
        self._seen: set[int] = set()  # streams of earlier phases

    async def call(self, number: int, questions: int) -> str:
        """``questions`` is the WebSocket callers': a SIP caller talks all along."""
        caller, workdir = caller_number(number), self.workdir / f"call-{number}"
        for _ in range(PORT_TRIES):
            run = await place_call(self.target, workdir, call_sec=self.length_sec,
                                   sip_port=free_udp_ports(1),
                                   media_port=caller_media_port(self.rtp),
                                   caller=caller, audio=self.audio)
            if run.returncode != SIPP_CANNOT_BIND or run.statuses:
                break
            # a port found free was taken before sipp bound it (40 sipps start in a minute)
            shutil.rmtree(workdir, ignore_errors=True)
        verdict = sip_outcome(run)
        self._setup_ms += run.setup_ms
        if 200 in run.statuses:
            self.answered.append(caller)
        if verdict.startswith("failed"):
            workdir.mkdir(parents=True, exist_ok=True)
            (workdir / "sipp_output.txt").write_text(run.output)
            self.kept.append(workdir)
            logger.warning(f"load: SIP call {number} {verdict}; sipp's files in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        return verdict

    def phase_audio(self) -> PhaseAudio:
        streams = self._new_streams()
        setup, self._setup_ms = self._setup_ms, []
        figures: dict[str, Any] = {
            "setup_ms_p50": round(percentile(setup, 0.5), 1) if setup else None,
            "setup_ms_p95": round(percentile(setup, 0.95), 1) if setup else None,
        }
        if self.capture is None:
            return PhaseAudio({**figures, "rtp": "not captured (needs root)"}, 0, 0)
        ratio = late_or_missing_ratio(streams)
        late = sum(s.late + s.missing for s in streams)
        figures |= {"calls_with_bot_audio": sum(1 for s in streams if s.voiced),
                    "rtp_packets_received": sum(s.received for s in streams),
                    "rtp_packets_late": sum(s.late for s in streams),
                    "rtp_packets_missing": sum(s.missing for s in streams),
                    "late_or_missing_ratio": round(ratio, 5) if ratio is not None else None}
        return PhaseAudio(figures, late, sum(s.expected for s in streams))

    def _new_streams(self) -> list[StreamStats]:
        streams = [s for s in (self.capture.streams() if self.capture else [])
                   if id(s) not in self._seen]
        self._seen |= {id(s) for s in streams}
        return streams

    async def call_sec(self, asked: float | None) -> float:
        return asked or self.length_sec

    def store_losses(self, database: Path) -> dict[str, Any]:
        """Each answered caller's call: in the log, closed, with at least one turn."""
        log = read_call_log(database)
        if log is None:
            return no_call_log(database)
        by_pseudonym = {caller: (call_id, result) for call_id, caller, result in log.calls}
        key = PSEUDONYM_KEY.encode()
        found = [by_pseudonym.get(pseudonymise(caller, key) or "") for caller in self.answered]
        missing = sum(1 for record in found if record is None)
        unclosed = sum(1 for record in found if record is not None and record[1] is None)
        no_turns = sum(1 for record in found if record is not None and not log.turns.get(record[0]))
        return {"log_records_lost": missing + unclosed + no_turns,
                "calls_in_store": len(log.calls), "calls_missing_from_store": missing,
                "calls_left_open_in_store": unclosed, "calls_without_turns_in_store": no_turns,
                "turns_in_store": sum(log.turns.values()),
                "failed_calls_sipp_files": [str(p) for p in self.kept[:10]]}


@contextmanager
def sip_load(settings: Settings, max_calls: int, state_dir: Path,
             call_sec: float | None) -> Iterator[tuple[VoiceServer, SipLoad]]:
    """A real ``callbot serve`` with SIP (its call log in ``state_dir``) and its callers."""
    workdir = Path(tempfile.mkdtemp(prefix="callbot-load-sip-"))
    env = {"CALLBOT_STORE__STATE_DIR": str(state_dir),
           "CALLBOT_STORE__PSEUDONYM_KEY": PSEUDONYM_KEY, **KEEP_TALKING_ENV}
    with sip_server(settings.nlu.cache_dir, max_calls=max_calls, **env) as (server, port, rtp):
        capture = RtpCapture(*rtp) if RtpCapture.available() else None
        if capture is None:
            logger.warning("capturing the bot's RTP needs root: late and missing not measured")
        transport = SipLoad(port, rtp, workdir, call_sec or SIP_CALL_SEC, capture)
        with capture or nullcontext():
            yield server, transport
    if not transport.kept:
        shutil.rmtree(workdir, ignore_errors=True)
