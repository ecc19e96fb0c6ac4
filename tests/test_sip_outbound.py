"""Outbound calls against a real sipp as the called party (telephony/sipp/uas_*.xml).

One in-process ``SipEndpoint`` (sippy's dispatcher is one per process) with real speech: the
pipeline's Silero VAD, faster-whisper base in French and the PyPI Piper voice. sipp plays the
callee's words (espeak-ng + mbrola-fr1, as headerless µ-law: its ``rtp_stream``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from fixtures.audio.make_clips import make
from sip_support import free_udp_port
from speech_support import PIPER_VOICE

from callbot.bridge import g711
from callbot.config import Settings
from callbot.pipeline.call import VoiceStack
from callbot.sip.dial_result import DialOutcome, outcome_of
from callbot.sip.endpoint import SipEndpoint
from callbot.sip.outbound import OutboundDialer
from callbot.sip.outbound_audio import HeardKind
from callbot.sip.outbound_settings import OutboundSettings
from callbot.speech.audio import read_wav, silence

pytestmark = [
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) missing"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing"),
    pytest.mark.asyncio(loop_scope="module"),
]
SCENARIOS = Path(__file__).resolve().parent.parent / "telephony" / "sipp"
TOWN_HALL = "+33130000000"
TRUNK_USER, TRUNK_PASSWORD = "mairie", "s3cret-trunk"  # as in uas_auth.xml
GREETING = ("Bonjour, vous êtes bien sur le répondeur de Marie Dupont. Je ne suis pas "
            "disponible pour le moment, laissez-moi un message après le bip.")


def test_statuses_become_outcomes() -> None:
    assert [outcome_of(code) for code in (200, 486, 600, 480, 487, 404, 603, 503, 407)] == [
        "answered", "busy", "busy", "no_answer", "no_answer", "rejected", "rejected", "failed",
        "failed"]
    assert outcome_of(408, heard_back=False) == DialOutcome.FAILED  # the trunk itself is silent


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders for sipp, each with its callee.ul: « oui, allô ? » and a voicemail greeting (a
    lone « oui ? » is shorter than the VAD's start_secs: decided a person at the window's end)."""
    root = tmp_path_factory.mktemp("callees")
    folders = {}
    for name, text, after_sec in (("oui", "Oui, allô ?", 3.0), ("machine", GREETING, 1.0)):
        pcm = read_wav(make(name, "mb-fr1", text, out_dir=root))[0]
        folder = root / name
        folder.mkdir()
        (folder / "callee.ul").write_bytes(g711.encode(silence(0.4, 8000) + pcm
                                                       + silence(after_sec, 8000), "ulaw"))
        folders[name] = folder
    return folders


def _stack() -> VoiceStack:
    from callbot.speech.models import resolve_model
    from callbot.speech.piper_tts import PiperTTSService
    from callbot.speech.piper_voice import PiperVoiceModel
    from callbot.speech.whisper_stt import LocalWhisperSTTService, load_whisper_model

    whisper = resolve_model("faster-whisper-base", Settings())
    load_whisper_model(whisper)
    voice = PiperVoiceModel.load(PIPER_VOICE)
    return VoiceStack(brain=None,  # type: ignore[arg-type]  # no conversation: the test drives
                      make_stt=lambda rate: LocalWhisperSTTService(model_dir=whisper),
                      make_tts=lambda rate: PiperTTSService(voice=voice),
                      render_speech=voice.render)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def endpoint(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SipEndpoint]:
    settings = Settings(sip={"enabled": True, "port": 0, "max_calls": 3,
                             "transfer_uri": "sip:agent@127.0.0.1:5999",
                             "transfer_timeout_sec": 2, "rtp_timeout_sec": 10},
                        store={"state_dir": tmp_path_factory.mktemp("state"),
                               "pseudonym_key": "outbound-tests"})
    sip = SipEndpoint(settings, await asyncio.to_thread(_stack))
    await sip.start()
    yield sip
    await sip.stop()


class Callee:
    """One sipp UAS run: the trunk and the person behind it."""

    def __init__(self, scenario: str, workdir: Path, *args: str) -> None:
        self.port = free_udp_port()
        self.log = workdir / f"{Path(scenario).stem}-{time.monotonic_ns()}.log"
        self.messages = self.log.with_suffix(".msg")
        self.process = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(self.port),
             "-mi", "127.0.0.1", "-mp", str(free_udp_port()), "-m", "1", "-nostdin",
             "-timeout", "40s", "-timeout_error", "-trace_logs", "-log_file", str(self.log),
             "-trace_msg", "-message_file", str(self.messages), *args],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)

    async def done(self) -> tuple[int, str, str]:
        """sipp's exit code, its <log> lines and its message trace."""
        try:
            code = await asyncio.to_thread(self.process.wait, 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = await asyncio.to_thread(self.process.wait)
        read = lambda path: path.read_text(errors="replace") if path.exists() else ""  # noqa: E731
        return code, read(self.log), read(self.messages) + self.process.stderr.read().decode()


def dialer(endpoint: SipEndpoint, callee: Callee, **changes: object) -> OutboundDialer:
    settings = {"trunk_host": "127.0.0.1", "trunk_port": callee.port, "caller_id": TOWN_HALL,
                "caller_name": "Mairie de Villebrune", "from_domain": "mairie.example",
                "ring_timeout_sec": 5, "keep_free_lines": 1}
    return OutboundDialer(endpoint, OutboundSettings(**{**settings, **changes}))


async def test_answered_by_a_person_who_says_oui(endpoint: SipEndpoint,
                                                  audio: dict[str, Path]) -> None:
    callee = Callee("uas_answer.xml", audio["oui"])
    result = await dialer(endpoint, callee).dial("0601020304")
    assert (result.outcome, result.status) == (DialOutcome.ANSWERED, 200), result
    call = result.call
    assert call is not None
    decision = await call.machine()
    assert (decision.verdict, decision.reason) == ("human", "short_greeting")
    heard = await call.listen(8.0)  # « Oui ? » came during the detection: it was kept
    assert heard.kind == HeardKind.SPEECH and "oui" in heard.text.lower(), heard
    assert await call.say("Bonjour, ici la mairie.")
    assert call.media is not None and call.media.stream.packets_out > 50
    await call.hangup()
    code, log, messages = await callee.done()
    assert code == 0, messages[-3000:]
    pai, sender = log.split("INVITE PAI", 1)[1].split(" FROM ", 1)
    for header in (pai, sender):  # the town hall's number, in From and P-Asserted-Identity
        assert f'"Mairie de Villebrune" <sip:{TOWN_HALL}@mairie.example>' in header, log
    assert "BYE sip:callee@127.0.0.1" in messages  # the bot hung up, to the Contact of the 200
    assert endpoint._reserved == 0


async def test_busy(endpoint: SipEndpoint, audio: dict[str, Path]) -> None:
    callee = Callee("uas_busy.xml", audio["oui"])
    result = await dialer(endpoint, callee).dial("0601020304")
    assert (result.outcome, result.status, result.call) == (DialOutcome.BUSY, 486, None)
    assert (await callee.done())[0] == 0


async def test_no_answer_is_cancelled_after_the_ring_timeout(endpoint: SipEndpoint,
                                                             audio: dict[str, Path]) -> None:
    callee = Callee("uas_no_answer.xml", audio["oui"])
    started = time.monotonic()
    result = await dialer(endpoint, callee, ring_timeout_sec=1.5).dial("0601020304")
    assert (result.outcome, result.status) == (DialOutcome.NO_ANSWER, 487)
    assert 1.4 < time.monotonic() - started < 4
    code, log, messages = await callee.done()
    assert code == 0 and "cancelled" in log, messages[-3000:]


async def test_digest_challenge_then_answered(endpoint: SipEndpoint,
                                              audio: dict[str, Path]) -> None:
    callee = Callee("uas_auth.xml", audio["oui"])
    result = await dialer(endpoint, callee, username=TRUNK_USER,
                          password=TRUNK_PASSWORD).dial("0601020304")
    assert result.outcome == DialOutcome.ANSWERED, result
    assert result.call is not None
    await result.call.hangup()
    code, log, messages = await callee.done()
    assert code == 0 and "407 Proxy Authentication Required" in messages, messages[-3000:]
    fields = dict(re.findall(r'(\w+)="([^"]*)"', log.split("Proxy-Authorization:", 1)[1]))
    assert (fields["username"], fields["realm"], fields["nonce"]) == (TRUNK_USER, "trunk.mairie",
                                                                      "5b1e8f0c2d")
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731, S324 - RFC 2617
    expected = md5(f"{md5(f'{TRUNK_USER}:trunk.mairie:{TRUNK_PASSWORD}')}:5b1e8f0c2d:"
                   f"{md5('INVITE:' + fields['uri'])}")
    assert fields["response"] == expected
    assert TRUNK_PASSWORD not in messages


async def test_callee_hangs_up_mid_message(endpoint: SipEndpoint, audio: dict[str, Path]) -> None:
    callee = Callee("uas_hangup.xml", audio["oui"], "-d", "2500")
    result = await dialer(endpoint, callee).dial("0601020304")
    assert result.call is not None, result
    said = await result.call.say("Bonjour, ici la mairie de Villebrune. " * 6)  # ~15 s of words
    assert said is False and result.call.caller_gone
    assert (await result.call.listen(1.0)).kind == HeardKind.HANGUP
    await asyncio.wait_for(result.call.ended.wait(), 5)
    assert (await callee.done())[0] == 0
    assert endpoint._reserved == 0


async def test_long_recorded_greeting_is_a_machine(endpoint: SipEndpoint,
                                                    audio: dict[str, Path]) -> None:
    callee = Callee("uas_answer.xml", audio["machine"])
    result = await dialer(endpoint, callee).dial("0601020304")
    assert result.call is not None, result
    decision = await result.call.machine()
    assert (decision.verdict, decision.reason) == ("machine", "long_greeting")
    assert decision.after_sec < 4
    assert await result.call.wait_quiet(0.8, timeout_sec=10)  # the greeting is over
    await result.call.hangup()
    assert (await callee.done())[0] == 0


async def test_lines_stay_free_for_callers(endpoint: SipEndpoint) -> None:
    """3 lines, 1 kept for callers: 2 outbound at most, and none once callers hold 2."""
    out = OutboundDialer(endpoint, OutboundSettings(trunk_host="127.0.0.1", keep_free_lines=1))
    assert out.may_dial()
    assert endpoint.reserve_line(1) and endpoint.reserve_line(1)
    try:
        assert not out.may_dial() and not endpoint.reserve_line(1)
        assert endpoint.admit("127.0.0.1").code == 0  # a caller still gets the last line
        result = await out.dial("0601020304")
        assert (result.outcome, result.placed, result.reason) == ("failed", False, "no free line")
    finally:
        endpoint.release_line()
        endpoint.release_line()
