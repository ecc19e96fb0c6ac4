"""SIP calls against a real ``callbot serve``, driven by a real sipp (telephony/sipp/*.xml).

Real models (the PyPI Vosk/Piper packages, as in test_voice_calls.py). The caller's RTP is
sipp's own ``rtp_stream`` in the basic call; elsewhere ``RtpPeer`` (tests/sip_support.py)
stands at the address the scenario announces, to press keys and to look at the bot's audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import wave
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sip_support import (
    SCENARIOS,
    RtpPeer,
    SippRun,
    final_status,
    free_udp_port,
    options_status,
    run_sipp,
)

from callbot.bridge import g711
from callbot.voice_server import VoiceServer, voice_server

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) missing")
AUDIO = Path(__file__).parent / "fixtures" / "audio"
SWITCHBOARD = "01 30 00 00 00"
TRUNK_USER, TRUNK_PASSWORD = "trunk", "s3cret-trunk"  # digest auth asked outside the allow-list
EXTENSION, EXTENSION_PASSWORD = "callbot-ext", "s3cret-pbx"  # the bot's own REGISTER


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sipp's working directory, with the caller's words as headerless µ-law (rtp_stream)."""
    path = tmp_path_factory.mktemp("sipp")
    with wave.open(str(AUDIO / "fr_horaires.wav")) as clip:  # espeak-ng + mbrola-fr1, 8 kHz
        (path / "caller.ul").write_bytes(g711.encode(clip.readframes(clip.getnframes()), "ulaw"))
    return path


@pytest.fixture(scope="module")
def registrar(workdir: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    """A PBX registrar (sipp UAS), up before the bot starts and registers to it."""
    port = free_udp_port()
    process = subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / "uas_registrar.xml"), "-i", "127.0.0.1", "-p", str(port),
         "-m", "1", "-nostdin", "-timeout", "300s", "-timeout_error", "-trace_logs",
         "-log_file", str(workdir / "registrar.log")],
        cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield port, process
    if process.poll() is None:
        process.kill()


@pytest.fixture(scope="module")
def server(nlu_cache: Path, brain: object, tmp_path_factory: pytest.TempPathFactory,
           registrar: tuple[int, subprocess.Popen]) -> Iterator[VoiceServer]:
    sip_port = free_udp_port()
    state_dir = tmp_path_factory.mktemp("state")
    env = {"CALLBOT_SIP__ENABLED": "true", "CALLBOT_SIP__PORT": str(sip_port),
           "CALLBOT_SIP__MAX_CALLS": "2", "CALLBOT_SIP__ALLOWED_SOURCES": '["127.0.0.1/32"]',
           "CALLBOT_SIP__TRANSFER_URI": "sip:standard@127.0.0.1:5999",
           "CALLBOT_SIP__SWITCHBOARD_NUMBER": SWITCHBOARD,
           "CALLBOT_SIP__TRANSFER_TIMEOUT_SEC": "3", "CALLBOT_SIP__RTP_TIMEOUT_SEC": "6",
           "CALLBOT_SIP__ANSWER_DELAY_MS": "800",  # rings first: CANCEL wins even on a loaded machine
           "CALLBOT_STORE__STATE_DIR": str(state_dir),
           "CALLBOT_STORE__PSEUDONYM_KEY": "sip-tests",
           "CALLBOT_SIP__AUTH_USER": TRUNK_USER, "CALLBOT_SIP__AUTH_PASSWORD": TRUNK_PASSWORD,
           "CALLBOT_SIP__REGISTER_URI": f"sip:127.0.0.1:{registrar[0]}",
           "CALLBOT_SIP__REGISTER_USER": EXTENSION,
           "CALLBOT_SIP__REGISTER_PASSWORD": EXTENSION_PASSWORD}
    with voice_server(nlu_cache, **env) as running:
        running.sip_port = sip_port  # type: ignore[attr-defined]
        running.state_dir = state_dir  # type: ignore[attr-defined]
        yield running


def sipp_failure(run: SippRun, server: VoiceServer, start: int) -> str:
    """What to read when a scenario fails: sipp's complaint and the bot's log of that call."""
    return f"{run.stderr[-2000:]}\n--- callbot log ---\n{server.log_text()[start:][-6000:]}"


async def wait_for_log(server: VoiceServer, pattern: str, start: int, count: int = 1,
                       timeout_sec: float = 30) -> list[str]:
    """The matches of ``pattern`` in the server log past character ``start``, once there are ``count``."""
    async with asyncio.timeout(timeout_sec):
        while len(found := re.findall(pattern, server.log_text()[start:])) < count:  # noqa: ASYNC110 - a log a reader thread fills
            await asyncio.sleep(0.1)
    return found


async def call_with_peer(server: VoiceServer, workdir: Path, scenario: str, peer: RtpPeer,
                         codec: tuple[str, str] = ("0", "PCMU"), press: str | None = None,
                         args: tuple[str, ...] = (), local_ip: str = "127.0.0.1"):
    """A sipp call whose media is ``peer``: it streams silence (or presses a key) until sipp ends."""
    rtp_port = await peer.open()
    keys = {"rtp_port": str(rtp_port), "codec_pt": codec[0], "codec_name": codec[1]}
    sipp = asyncio.create_task(run_sipp(scenario, server.sip_port, workdir, "-mi", "127.0.0.1",
                                        *args, keys=keys, local_ip=local_ip))
    try:
        await peer.wait_for_bot()
        await peer.send_silence(0.5)
        if press:
            await peer.press(press)
        while not sipp.done():
            await peer.send_silence(0.2)
        return sipp.result()
    finally:
        peer.close()
        if not sipp.done():
            sipp.cancel()


async def test_basic_call_streams_caller_audio(server: VoiceServer, workdir: Path) -> None:
    """sipp plays the caller's words (headerless .ul) with its rtp_stream, then hangs up."""
    start = len(server.log_text())
    run = await run_sipp("uac_basic.xml", server.sip_port, workdir, "-d", "5000")
    assert run.returncode == 0, sipp_failure(run, server, start)
    assert "m=audio" in run.messages.split("SIP/2.0 200 OK", 1)[1]  # answered with our SDP
    packets_in = await wait_for_log(server, r"rtp: (\d+) packets in", start)
    assert int(packets_in[0]) >= 150  # the 3.5 s clip, 50 packets a second
    log = server.log_text()[start:]
    assert "call ended by the caller (caller_bye)" in log
    assert "0601020304" not in log  # the caller's number only as a pseudonym


async def test_dtmf_zero_is_transferred_with_refer(server: VoiceServer, workdir: Path) -> None:
    start = len(server.log_text())
    peer = RtpPeer()
    run = await call_with_peer(server, workdir, "uac_transfer.xml", peer, press="0")
    assert run.returncode == 0, sipp_failure(run, server, start)
    assert "X-Callbot-Reason: dtmf_zero" in run.logs
    assert "sip:standard@127.0.0.1:5999" in run.logs
    assert peer.speech_packets() > 100, "the bot's greeting did not reach the caller"
    await wait_for_log(server, r"transfer accepted \(NOTIFY 200\)", start)


async def test_sip_info_key_press_is_transferred(server: VoiceServer, workdir: Path) -> None:
    """Phones that send keys as SIP INFO (application/dtmf-relay) rather than RFC 4733."""
    start = len(server.log_text())
    run = await call_with_peer(server, workdir, "uac_info_transfer.xml", RtpPeer())
    assert run.returncode == 0, sipp_failure(run, server, start)
    assert "X-Callbot-Reason: dtmf_zero" in run.logs
    await wait_for_log(server, r"transfer accepted \(NOTIFY 200\)", start)


async def test_refused_transfer_says_the_switchboard_number(server: VoiceServer,
                                                            workdir: Path) -> None:
    """A PBX answering 603 to the REFER; PCMA this time."""
    start = len(server.log_text())
    peer = RtpPeer(payload_type=8)
    run = await call_with_peer(server, workdir, "uac_transfer_refused.xml", peer,
                               codec=("8", "PCMA"), press="0")
    assert run.returncode == 0, sipp_failure(run, server, start)
    refused_at = _message_time(run.messages, "SIP/2.0 603 Decline")
    assert peer.speech_packets("alaw", after=refused_at) > 50, "nothing said after the refusal"
    await wait_for_log(server, r"transfer failed \(REFER answered 603\)", start)
    # the call record (SQLite call log) says the caller was not transferred, and why
    with contextlib.suppress(TimeoutError):  # the close is written after the line event
        async with asyncio.timeout(30):
            while [row[0] for row in await asyncio.to_thread(_failed_transfers, server.state_dir)] != ["transfer_failed"]:  # noqa: ASYNC110, E501 - another process writes it
                await asyncio.sleep(0.5)
    stored = await asyncio.to_thread(_failed_transfers, server.state_dir)
    assert stored == [("transfer_failed", "dtmf_zero", "sip: REFER answered 603")]


async def test_cancel_before_answer(server: VoiceServer, workdir: Path) -> None:
    start = len(server.log_text())
    run = await run_sipp("uac_cancel.xml", server.sip_port, workdir)
    assert run.returncode == 0, sipp_failure(run, server, start)
    assert "SIP/2.0 487" in run.messages
    await wait_for_log(server, r"the caller ended the call \(cancel\)", start)


async def test_unsupported_codec_gets_488(server: VoiceServer, workdir: Path) -> None:
    run = await run_sipp("uac_refused.xml", server.sip_port, workdir,
                         keys={"offer_pt": "18", "offer_name": "G729"})
    assert (run.returncode, final_status(run.messages)) == (0, 488)


async def test_bot_registers_to_the_pbx(server: VoiceServer,
                                        registrar: tuple[int, subprocess.Popen]) -> None:
    port, process = registrar
    assert await asyncio.to_thread(process.wait, 30) == 0, process.stderr.read().decode()[-2000:]
    await wait_for_log(server, rf"registered to 127\.0\.0\.1:{port} as {EXTENSION}", 0)


async def test_outside_the_allow_list_digest_credentials_are_needed(server: VoiceServer,
                                                                     workdir: Path) -> None:
    start = len(server.log_text())
    peer = RtpPeer()
    run = await call_with_peer(server, workdir, "uac_auth.xml", peer,
                               args=("-au", TRUNK_USER, "-ap", TRUNK_PASSWORD, "-d", "1000"),
                               local_ip="127.0.0.2")
    assert run.returncode == 0, sipp_failure(run, server, start)
    assert "SIP/2.0 401 Unauthorized" in run.messages and "SIP/2.0 200 OK" in run.messages
    await wait_for_log(server, r"call started on sip", start)


async def test_wrong_credentials_get_403_and_a_log_line(server: VoiceServer, workdir: Path) -> None:
    start = len(server.log_text())
    keys = {"rtp_port": str(free_udp_port()), "codec_pt": "0", "codec_name": "PCMU"}
    run = await run_sipp("uac_auth.xml", server.sip_port, workdir, "-au", TRUNK_USER, "-ap", "guess",
                         local_ip="127.0.0.2", keys=keys)
    assert (run.returncode, final_status(run.messages)) == (0, 403)
    await wait_for_log(server, r"INVITE from 127\.0\.0\.2 refused with 403", start)
    log = server.log_text()
    assert TRUNK_PASSWORD not in log and EXTENSION_PASSWORD not in log


async def test_over_capacity_gets_486(server: VoiceServer, workdir: Path) -> None:
    start = len(server.log_text())
    keys = {"rtp_port": str(free_udp_port()), "codec_pt": "0", "codec_name": "PCMU"}
    two_calls = asyncio.create_task(run_sipp("uac_peer_media.xml", server.sip_port, workdir,
                                             "-m", "2", "-l", "2", "-d", "4000", keys=keys))
    await wait_for_log(server, r"call started on sip", start, count=2)
    third = await run_sipp("uac_refused.xml", server.sip_port, workdir,
                           keys={"offer_pt": "0", "offer_name": "PCMU"})
    assert (third.returncode, final_status(third.messages)) == (0, 486)
    assert (await two_calls).returncode == 0
    await wait_for_log(server, r"rtp: \d+ packets in", start, count=2)  # both calls are over


async def test_malformed_messages_leave_the_endpoint_serving(server: VoiceServer,
                                                             workdir: Path) -> None:
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(3)
        here = udp.getsockname()[1]
        good = _invite_text(server.sip_port, here, "m=audio 40000 RTP/AVP 0")
        bad_sdp = _invite_text(server.sip_port, here, "m=audio")
        no_contact = re.sub(r"Contact: [^\r]+\r\n", "", good)
        no_call_id = re.sub(r"Call-ID: [^\r]+\r\n", "", good)
        stray_bye = "\r\n".join([  # in a dialog that does not exist: 481
            f"BYE sip:callbot@127.0.0.1:{server.sip_port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bKstray",
            f"From: <sip:raw@127.0.0.1:{here}>;tag=stray",
            f"To: <sip:callbot@127.0.0.1:{server.sip_port}>;tag=nodialog",
            "Call-ID: stray@127.0.0.1", "CSeq: 2 BYE", "Max-Forwards: 70", "Content-Length: 0",
            "", ""])
        for number, junk in enumerate([b"\x00\xff" * 40, b"INVITE garbage\r\n\r\n" * 3,
                                       no_call_id.encode(), bad_sdp.encode(), no_contact.encode(),
                                       stray_bye.encode()]):
            udp.sendto(junk.replace(b"CALLNUMBER", str(number).encode()),
                       ("127.0.0.1", server.sip_port))
        deadline = asyncio.get_running_loop().time() + 3
        while asyncio.get_running_loop().time() < deadline and len(replies) < 3:
            try:
                replies.append(await asyncio.to_thread(udp.recv, 4096))
            except TimeoutError:
                break
    statuses = sorted(reply.split(b"\r\n", 1)[0].decode() for reply in replies)
    assert statuses == ["SIP/2.0 400 Missing Contact Header",
                        "SIP/2.0 481 Call Leg/Transaction Does Not Exist",
                        "SIP/2.0 488 Not Acceptable Here"]
    assert "can't parse SIP request" in server.log_text()  # logged, then dropped
    run = await call_with_peer(server, workdir, "uac_peer_media.xml", RtpPeer(), args=("-d", "1000"))
    assert run.returncode == 0, sipp_failure(run, server, 0)


async def test_caller_hangs_up_while_the_bot_speaks(server: VoiceServer, workdir: Path) -> None:
    start = len(server.log_text())
    peer = RtpPeer()
    run = await call_with_peer(server, workdir, "uac_peer_media.xml", peer, args=("-d", "2500"))
    assert run.returncode == 0, sipp_failure(run, server, start)
    assert peer.speech_packets() > 20  # the greeting had started
    await wait_for_log(server, r"call ended by the caller \(caller_bye\)", start)
    await wait_for_log(server, r"rtp: \d+ packets in", start)


async def test_reinvite_hold_is_answered(server: VoiceServer, workdir: Path) -> None:
    start = len(server.log_text())
    run = await call_with_peer(server, workdir, "uac_hold.xml", RtpPeer())
    assert run.returncode == 0, run.stderr[-2000:]  # the scenario checks a=recvonly in the 200
    assert "hold answered a=recvonly" in run.logs
    await wait_for_log(server, r"re-INVITE: media on hold", start)


async def test_silent_caller_is_hung_up_after_the_rtp_timeout(server: VoiceServer,
                                                              workdir: Path) -> None:
    start = len(server.log_text())
    keys = {"rtp_port": str(free_udp_port()), "codec_pt": "0", "codec_name": "PCMU"}
    run = await run_sipp("uac_rtp_silent.xml", server.sip_port, workdir, keys=keys)
    assert run.returncode == 0, run.stderr[-2000:]  # the bot's BYE came
    await wait_for_log(server, r"call ended by the caller \(rtp_timeout\)", start)


async def test_sigterm_refuses_new_calls_with_503(server: VoiceServer, workdir: Path) -> None:
    """Last in this module: it stops the server (the call in progress may finish). OPTIONS
    probes get 503 too while draining, so that a proxy (Kamailio) takes the bot out."""
    start = len(server.log_text())
    assert await asyncio.to_thread(options_status, server.sip_port) == 200
    keys = {"rtp_port": str(free_udp_port()), "codec_pt": "0", "codec_name": "PCMU"}
    call = asyncio.create_task(run_sipp("uac_peer_media.xml", server.sip_port, workdir,
                                        "-d", "3000", keys=keys))
    await wait_for_log(server, r"call started on sip", start)
    server.process.send_signal(signal.SIGTERM)
    await wait_for_log(server, r"stopping: no new calls", start)
    late = await run_sipp("uac_refused.xml", server.sip_port, workdir,
                          keys={"offer_pt": "0", "offer_name": "PCMU"})
    assert final_status(late.messages) == 503
    assert await asyncio.to_thread(options_status, server.sip_port) == 503
    assert (await call).returncode == 0
    assert await asyncio.to_thread(server.process.wait, 60) == 0


def _failed_transfers(state_dir: Path) -> list[tuple[str, str, str]]:
    """(outcome, transfer reason, detail) of the calls with a failed SIP transfer."""
    with contextlib.closing(sqlite3.connect(state_dir / "callbot.db")) as db:
        return db.execute("SELECT c.outcome, c.transfer_reason, c.detail FROM calls c "
                          "JOIN line_events e ON e.call_id = c.id "
                          "WHERE e.detail LIKE 'sip transfer failed%'").fetchall()


def _message_time(messages: str, first_line: str) -> float:
    """When sipp logged the message that starts with ``first_line`` (its -trace_msg stamp)."""
    stamp = None
    for line in messages.splitlines():
        if line.startswith("-" * 20) and line.strip("- "):
            stamp = line.strip("- ")
        elif line.startswith(first_line) and stamp:
            return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    raise AssertionError(f"{first_line!r} not in sipp's messages")


def _invite_text(port: int, here: int, media_line: str) -> str:
    """A hand-made INVITE from 127.0.0.1:``here`` (CALLNUMBER is replaced by the caller)."""
    sdp = ("v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           f"{media_line}\r\na=rtpmap:0 PCMU/8000\r\n")
    headers = [f"INVITE sip:callbot@127.0.0.1:{port} SIP/2.0",
               f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bKrawCALLNUMBER",
               f"From: <sip:raw@127.0.0.1:{here}>;tag=rawCALLNUMBER",
               f"To: <sip:callbot@127.0.0.1:{port}>",
               "Call-ID: raw-CALLNUMBER@127.0.0.1",
               "CSeq: 1 INVITE",
               f"Contact: <sip:raw@127.0.0.1:{here}>",
               "Max-Forwards: 70",
               "Content-Type: application/sdp",
               f"Content-Length: {len(sdp)}"]
    return "\r\n".join(headers) + "\r\n\r\n" + sdp

