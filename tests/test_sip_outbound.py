"""Outbound calls against a real sipp as the called party (telephony/sipp/uas_*.xml).

One in-process ``SipEndpoint`` (sippy's dispatcher is one per process) with real speech: the
pipeline's Silero VAD, faster-whisper base in French and the PyPI Piper voice. sipp plays the
callee's words (espeak-ng + mbrola-fr1, as headerless µ-law: its ``rtp_stream``), run by
``sip_support.run_sipp`` as for the inbound tests. Where the outcome is the campaign's (fine,
hung up), the answered call is driven by the campaign's own dialogue (``call_driver.drive``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from fixtures.audio.make_clips import make
from sip_support import SippRun, free_udp_port, run_sipp
from speech_support import PIPER_VOICE

from callbot.bridge import g711
from callbot.campaigns import wording
from callbot.campaigns.call_driver import drive
from callbot.campaigns.dialogue import End, OutboundContext
from callbot.campaigns.model import CampaignKind, Result
from callbot.campaigns.runner import RESULT_OF
from callbot.config import Settings
from callbot.pipeline.call import VoiceStack
from callbot.sip.dial_result import DialOutcome, outcome_of
from callbot.sip.endpoint import SipEndpoint
from callbot.sip.outbound import OutboundDialer, campaign_dialer
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
#: The tests' dialers, closed after each test (a failed test leaves its call up).
DIALERS: list[OutboundDialer] = []
BOT_PACE = 0.5  # Piper's length_scale in these tests
HEATWAVE = OutboundContext(CampaignKind.HEATWAVE, "Villebrune", "Il va faire très chaud.",
                           wording.HEATWAVE_QUESTION, "39 39", listen_sec=8.0)
GREETING = "Bonjour, vous êtes bien sur le répondeur de Marie Dupont. Laissez un message après le bip."


def test_statuses_become_outcomes() -> None:
    assert [outcome_of(code) for code in (200, 486, 600, 480, 487, 404, 603, 503, 407)] == [
        "answered", "busy", "busy", "no_answer", "no_answer", "rejected", "rejected", "failed",
        "failed"]
    assert outcome_of(408, heard_back=False) == DialOutcome.FAILED  # the trunk itself is silent


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders for sipp, each with its callee.ul: « oui, allô ? »; the same, then « oui, tout
    va bien » (or « non, j'ai besoin d'aide ») every few seconds (whenever the bot asks, an
    answer comes); a voicemail greeting.
    A lone « oui ? » would be shorter than the VAD's start_secs."""
    root = tmp_path_factory.mktemp("callees")
    said = {name: read_wav(make(name, "mb-fr1", text, out_dir=root))[0] for name, text in (
        ("hello", "Oui, allô ?"), ("fine", "Oui, tout va bien."),
        ("help", "Non, j'ai besoin d'aide."), ("machine", GREETING))}
    gap = silence(2.5, 8000)
    folders = {}
    for name, pcm in (("oui", said["hello"] + gap), ("fine", said["hello"] + (gap + said["fine"]) * 8),
                      ("help", said["hello"] + (gap + said["help"]) * 8),
                      ("keys", said["hello"] + silence(25.0, 8000)),  # then keys (SIP INFO)
                      ("machine", said["machine"] + silence(1.0, 8000))):
        folder = root / name
        folder.mkdir()
        (folder / "callee.ul").write_bytes(g711.encode(silence(0.4, 8000) + pcm, "ulaw"))
        folders[name] = folder
    return folders


def _stack() -> VoiceStack:
    from callbot.speech.models import resolve_model
    from callbot.speech.piper_tts import PiperTTSService
    from callbot.speech.piper_voice import PiperVoiceModel
    from callbot.speech.whisper_stt import LocalWhisperSTTService, load_whisper_model

    whisper = resolve_model("faster-whisper-base", Settings())
    load_whisper_model(whisper)
    loaded = PiperVoiceModel.load(PIPER_VOICE)
    # the bot's words at twice the pace (nobody transcribes them): the file's runtime halves
    piper = replace(loaded._voice, config=replace(loaded._voice.config, length_scale=BOT_PACE))
    voice = PiperVoiceModel(loaded.path, piper, loaded.load_sec)
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
    sip.port = await sip.start()  # type: ignore[attr-defined]  # the callees' remote party
    yield sip
    await sip.stop()


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def lines_released(endpoint: SipEndpoint) -> AsyncIterator[None]:
    """Every test ends with every line free again; a failed one's calls are hung up."""
    yield
    held = endpoint._reserved
    for used in DIALERS:
        await used.close()
    DIALERS.clear()
    assert (held, endpoint._reserved) == (0, 0), "lines held after the test, after close()"


class Callee:
    """One sipp UAS run (``run_sipp``): the trunk and the person behind it, on its own port."""

    def __init__(self, endpoint: SipEndpoint, scenario: str, workdir: Path, *args: str) -> None:
        self.port = free_udp_port()
        # sipp reads its options in order: this -p wins over run_sipp's own
        self.run = asyncio.create_task(run_sipp(scenario, endpoint.port, workdir, "-p",
                                                str(self.port), "-mi", "127.0.0.1", *args,
                                                timeout_sec=40))

    async def listening(self) -> Callee:
        """Once sipp has bound its port: the INVITE is not left to a retransmission."""
        async with asyncio.timeout(10):
            while not self.run.done() and not _udp_bound(self.port):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        return self

    async def done(self) -> SippRun:
        return await asyncio.wait_for(self.run, 45)


def _udp_bound(port: int) -> bool:
    """Whether a UDP socket is bound to ``port`` (from /proc: binding to probe would race sipp)."""
    rows = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(row.split()[1].endswith(f":{port:04X}") for row in rows)


async def sipp_callee(endpoint: SipEndpoint, scenario: str, workdir: Path, *args: str) -> Callee:
    return await Callee(endpoint, scenario, workdir, *args).listening()


def dialer(endpoint: SipEndpoint, callee: Callee, **changes: object) -> OutboundDialer:
    settings = {"trunk_host": "127.0.0.1", "trunk_port": callee.port, "caller_id": TOWN_HALL,
                "caller_name": "Mairie de Villebrune", "from_domain": "mairie.example",
                "ring_timeout_sec": 5, "keep_free_lines": 1}
    DIALERS.append(OutboundDialer(endpoint, OutboundSettings(**{**settings, **changes})))
    return DIALERS[-1]


async def test_a_campaign_call_reaches_a_person_who_says_oui(endpoint: SipEndpoint,
                                                             audio: dict[str, Path]) -> None:
    """The campaign's dialogue over a real call: disclosure, message, question, « oui » → fine."""
    callee = await sipp_callee(endpoint, "uas_answer.xml", audio["fine"])
    result = await dialer(endpoint, callee).dial("+33601020304")
    assert (result.outcome, result.status) == (DialOutcome.ANSWERED, 200), result
    call = result.call
    assert call is not None
    end = await drive(call, HEATWAVE, datetime.now)
    assert end.result == Result.FINE, end
    decision = await call.machine()  # « Oui, allô ? », then quiet
    assert (decision.verdict, decision.reason) == ("human", "short_greeting")
    assert call.media is not None and call.media.stream.packets_out > 500  # 10 s of words and more
    run = await callee.done()
    assert run.returncode == 0, run.stderr[-3000:]
    pai, sender = run.logs.split("INVITE PAI", 1)[1].split(" FROM ", 1)
    for header in (pai, sender):  # the town hall's number, in From and P-Asserted-Identity
        assert f'"Mairie de Villebrune" <sip:{TOWN_HALL}@mairie.example>' in header, run.logs
    invite = run.messages.split("INVITE sip:+33601020304@", 1)[1].split("SIP/2.0 180", 1)[0]
    assert "application/sdp" in invite and "RTP/AVP 9 0 8 101" in invite  # our offer
    assert "BYE sip:callee@127.0.0.1" in run.messages  # the bot hung up, to the 200's Contact


async def heatwave_call(endpoint: SipEndpoint, scenario: str,
                        folder: Path) -> tuple[End, SippRun]:
    """A heatwave check over a real call to sipp playing ``scenario``: the campaign's own
    dialogue to its end, then sipp's run."""
    callee = await sipp_callee(endpoint, scenario, folder)
    result = await dialer(endpoint, callee).dial("+33601020304")
    assert result.outcome == DialOutcome.ANSWERED and result.call is not None, result
    end = await drive(result.call, HEATWAVE, datetime.now)
    return end, await callee.done()


async def test_a_person_who_needs_help_is_put_through_to_the_agent(
        endpoint: SipEndpoint, audio: dict[str, Path]) -> None:
    """« Non, j'ai besoin d'aide » to the heatwave question: REFER to the on-duty agent, the
    callee's NOTIFY 200 ends the bot's part of the call (its BYE)."""
    end, run = await heatwave_call(endpoint, "uas_refer.xml", audio["help"])
    assert end.result == Result.TRANSFERRED, end
    assert run.returncode == 0, run.stderr[-3000:]
    assert "REFER Refer-to: <sip:agent@127.0.0.1:5999" in run.logs, run.logs[-2000:]
    assert "BYE sip:callee@127.0.0.1" in run.messages  # after the NOTIFY 200, the bot left


async def test_a_person_who_presses_1_is_fine(endpoint: SipEndpoint,
                                              audio: dict[str, Path]) -> None:
    """The keypad instead of words: « tapez 1 ou 2 », and 1 as SIP INFO → `fine`, the bot's
    BYE. Not RFC 4733 here: sipp plays its DTMF pcaps from a socket of its own, a second RTP
    source beside its audio, and the bot did not hear those keys (RFC 4733 keys are tested
    inbound, from the tests' RTP peer)."""
    end, run = await heatwave_call(endpoint, "uas_keys.xml", audio["keys"])
    assert end.result == Result.FINE, (end, run.stderr[-3000:])
    assert run.returncode == 0, run.stderr[-3000:]


async def test_busy(endpoint: SipEndpoint, audio: dict[str, Path]) -> None:
    callee = await sipp_callee(endpoint, "uas_busy.xml", audio["oui"])
    result = await dialer(endpoint, callee).dial("0601020304")
    assert (result.outcome, result.status, result.call) == (DialOutcome.BUSY, 486, None)
    assert RESULT_OF[result.outcome] == Result.BUSY  # the campaign runner reads it as its own
    assert (await callee.done()).returncode == 0


async def test_no_answer_is_cancelled_after_the_ring_timeout(endpoint: SipEndpoint,
                                                             audio: dict[str, Path]) -> None:
    callee = await sipp_callee(endpoint, "uas_no_answer.xml", audio["oui"])
    started = time.monotonic()
    result = await dialer(endpoint, callee, ring_timeout_sec=1.5).dial("0601020304")
    assert (result.outcome, result.status) == (DialOutcome.NO_ANSWER, 487)
    assert 1.4 < time.monotonic() - started < 4
    run = await callee.done()
    assert run.returncode == 0 and "cancelled" in run.logs, run.messages[-3000:]


async def test_a_campaign_stopped_while_it_rings_cancels_the_call(endpoint: SipEndpoint,
                                                                  audio: dict[str, Path]) -> None:
    callee = await sipp_callee(endpoint, "uas_no_answer.xml", audio["oui"])
    ringing = asyncio.create_task(dialer(endpoint, callee).dial("0601020304"))
    await asyncio.sleep(0.5)
    ringing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ringing
    assert endpoint._reserved == 0  # at once, not when the 487 comes
    run = await callee.done()
    assert run.returncode == 0 and "cancelled" in run.logs, run.messages[-3000:]


async def test_digest_challenge_then_answered(endpoint: SipEndpoint,
                                              audio: dict[str, Path]) -> None:
    callee = await sipp_callee(endpoint, "uas_auth.xml", audio["oui"])
    result = await dialer(endpoint, callee, username=TRUNK_USER,
                          password=TRUNK_PASSWORD).dial("0601020304")
    assert result.outcome == DialOutcome.ANSWERED, result
    assert result.call is not None
    await result.call.hangup()
    run = await callee.done()
    assert run.returncode == 0, run.stderr[-3000:]
    assert "407 Proxy Authentication Required" in run.messages
    fields = dict(re.findall(r'(\w+)="([^"]*)"', run.logs.split("Proxy-Authorization:", 1)[1]))
    assert (fields["username"], fields["realm"], fields["nonce"]) == (TRUNK_USER, "trunk.mairie",
                                                                      "5b1e8f0c2d")
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731, S324 - RFC 2617
    expected = md5(f"{md5(f'{TRUNK_USER}:trunk.mairie:{TRUNK_PASSWORD}')}:5b1e8f0c2d:"
                   f"{md5('INVITE:' + fields['uri'])}")
    assert fields["response"] == expected
    assert TRUNK_PASSWORD not in run.messages


async def test_callee_hangs_up_mid_message(endpoint: SipEndpoint, audio: dict[str, Path]) -> None:
    """sipp's BYE 4 s after its ACK, in the disclosure: the dialogue ends there, hung up."""
    callee = await sipp_callee(endpoint, "uas_hangup.xml", audio["oui"], "-d", "4000")
    result = await dialer(endpoint, callee).dial("+33601020304")
    assert result.call is not None, result
    answered = time.monotonic()
    context = OutboundContext(CampaignKind.REMINDER, "Villebrune",
                              "Votre passeport est prêt à la mairie de Villebrune. " * 4,
                              "", "39 39")  # ~10 s of words after the disclosure
    end = await drive(result.call, context, datetime.now)
    assert end.result == Result.HUNG_UP and result.call.caller_gone, end
    assert time.monotonic() - answered < 8  # the words take 13 s: left on the BYE (4 s)
    await asyncio.wait_for(result.call.ended.wait(), 5)
    assert (await callee.done()).returncode == 0


async def test_long_recorded_greeting_is_a_machine(endpoint: SipEndpoint,
                                                    audio: dict[str, Path]) -> None:
    callee = await sipp_callee(endpoint, "uas_answer.xml", audio["machine"])
    result = await dialer(endpoint, callee).dial("0601020304")
    assert result.call is not None, result
    decision = await result.call.machine()
    assert decision.machine and decision.reason in ("long_greeting", "talkative"), decision
    assert decision.after_sec < 5
    assert await result.call.wait_quiet(0.8, timeout_sec=10)  # the greeting is over
    await result.call.hangup()
    assert (await callee.done()).returncode == 0


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
        assert endpoint.reserve_line(0)  # nothing kept free: the last line goes out too…
        try:
            assert endpoint.admit("127.0.0.1").code == 486  # …and a caller hears busy
        finally:
            endpoint.release_line()
    finally:
        endpoint.release_line()
        endpoint.release_line()


async def test_the_campaign_dialer_needs_a_trunk() -> None:
    with pytest.raises(ValueError, match="trunk_host"):
        async with campaign_dialer(Settings()):
            pass
