"""One appointment booked by voice: a French caller over the WebSocket bridge of a real
``callbot serve`` asks for an identity-card appointment, picks a slot, gives a name and
confirms; the event is then read back from the town's real CalDAV server (Radicale).

The serve is the session's French one (tests/conftest.py ``french_server``, configured to book
in ``town_calendar``), so this test adds no model load. The caller's clips are espeak-ng +
mbrola-fr1 (tests/fixtures/audio/clips.tsv) and recognition is the packaged Whisper model
(faster-whisper base, French): the French Vosk model cannot be fetched here, and the only
packaged Vosk model is Korean. The phrasings are the ones Whisper base hears right from this
synthetic voice ("jeudi matin" alone is heard "je dis matin", "Dupont" alone is not heard;
"plutôt le jeudi matin" was heard right or as "le jeu d'Immatins" depending on where the VAD
cut the segment, so the day is said as a date, heard right from every cut tried).

The caller is a hurried one: they speak again as soon as the turn report says what the bot
answered, over the answer's audio, which the bot then stops (barge-in). A caller who hears
every answer out costs ~65 s instead of ~19 s (load 1.5 on 2 cores), beyond the suite's time
budget; the offer, the recap and the booking are checked from the bot's text and the calendar.

The same booking by phone over SIP: sipp does the signalling (INVITE, and the 200 to the
bot's BYE), ``RtpPeer`` (tests/sip_support.py) is the phone's RTP end sending the clips as
µ-law; SIP callers get no turn reports, so the caller speaks as soon as the serve's log shows
the bot's reply to its last sentence (a hurried caller again) and reads the bot's words there.
The caller says goodbye at the end and the bot hangs up. The serve is the same, SIP on.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

from errand_servers import CALENDAR_USER, CALENDARS, Radicale
from sip_support import RtpPeer, run_sipp

from callbot.bridge import g711
from callbot.call_client import Step, call_websocket
from callbot.errands.connectors.caldav_calendar import CalDavCalendar
from callbot.sip_bench import sip_port
from callbot.speech.audio import read_wav
from callbot.voice_server import OPEN_HOURS, VoiceServer

AUDIO = Path(__file__).parent / "fixtures" / "audio"
CALLER = "+33644444444"
CLIPS = ("fr_rdv_carte", "fr_trois_decembre_matin", "fr_le_premier", "fr_martin", "fr_oui_confirme")
SIP_CALLER = "0601020304"  # the From of telephony/sipp/uac_until_bot_bye.xml
_TURN = re.compile(r"caller: (.*)\n(?:.*\n)*?.*bot \(\w+\): (.*)")


async def test_an_id_card_appointment_booked_by_voice_over_the_websocket_bridge(
        french_server: tuple[VoiceServer, str], town_calendar: Radicale) -> None:
    server = french_server[0]
    steps = [Step("wav", str(AUDIO / f"{clip}.wav")) for clip in CLIPS]
    report = await call_websocket(server.call_url, steps, caller=CALLER, wait_greeting=False,
                                  barge_in=True)
    turns = [turn for turn in report.turns if turn.get("caller")]
    heard = "\n".join([*(f"{t['caller']!r} → {t['bot']!r}" for t in turns),
                       f"events {report.events}, ended by {report.ended_by!r}, close code "
                       f"{report.close_code}", server.log_text()[-3000:]])
    bot = [turn["bot"] for turn in turns]
    assert len(bot) == len(CLIPS), heard
    assert bot[0] == "Quel jour vous arrangerait ?", heard
    assert bot[1].startswith("Je peux vous proposer jeudi 3 décembre à 8 h 30"), heard
    assert bot[2] == "Très bien. À quel nom ?", heard
    assert "au nom de Martin. Je confirme ?" in bot[3], heard
    assert bot[4].startswith("C'est noté"), heard
    calendar = CalDavCalendar(town_calendar.url, CALENDAR_USER, "any", 5.0, CALENDARS)
    [booking] = calendar.find("etat-civil", CALLER, datetime.fromisoformat(OPEN_HOURS))
    assert (booking.slot.start, booking.name) == (datetime(2026, 12, 3, 8, 30), "Martin")
    assert {"type": "clear"} in report.events  # the caller did speak over the bot


def _bot_turns(log: str) -> list[tuple[str, str]]:
    """(what the serve heard, the first thing the bot said back), turn by turn, from its log."""
    return [(caller, bot) for caller, bot in _TURN.findall(log)]


async def _speak_when_answered(server: VoiceServer, peer: RtpPeer, start: int,
                               clips: list[str], sipp: asyncio.Task) -> None:
    """Each clip once the bot has answered the one before (the greeting first), silence
    meanwhile, as a phone sends; until sipp ends (the bot's BYE)."""
    await peer.wait_for_bot()
    said = 0
    while not sipp.done():
        log = server.log_text()[start:]
        ready = "bot (" in log if said == 0 else len(_bot_turns(log)) >= said
        if said < len(clips) and ready:
            pcm, rate = read_wav(AUDIO / f"{clips[said]}.wav")
            assert rate == 8000
            await peer.send_audio(g711.encode(pcm, "ulaw"))
            said += 1
        else:
            await peer.send_silence(0.2)


async def test_the_same_booking_by_phone_over_sip(french_server: tuple[VoiceServer, str],
                                                  town_calendar: Radicale,
                                                  tmp_path: Path) -> None:
    server = french_server[0]
    start = len(server.log_text())
    peer = RtpPeer()
    keys = {"rtp_port": str(await peer.open()), "codec_pt": "0", "codec_name": "PCMU"}
    sipp = asyncio.create_task(run_sipp("uac_until_bot_bye.xml", sip_port(server), tmp_path,
                                        "-mi", "127.0.0.1", keys=keys, timeout_sec=120))
    try:
        await _speak_when_answered(server, peer, start, [*CLIPS, "fr_au_revoir"], sipp)
        run = await sipp
    finally:
        peer.close()
        sipp.cancel()
    log = server.log_text()[start:]
    turns = _bot_turns(log)
    heard = "\n".join([*(f"{c} → {b}" for c, b in turns), run.stderr[-1500:], log[-3000:]])
    assert run.returncode == 0, heard
    bot = [b for _, b in turns]
    assert len(bot) == len(CLIPS) + 1, heard
    assert bot[0] == "'Quel jour vous arrangerait ?'", heard
    assert bot[1].startswith("'Je peux vous proposer jeudi 3 décembre à"), heard
    assert "au nom de Martin. Je confirme ?" in bot[3], heard
    assert bot[4].startswith("\"C'est noté") or bot[4].startswith("'C'est noté"), heard
    assert "au revoir" in bot[5], heard
    assert "call ended by the bot" in log, heard
    calendar = CalDavCalendar(town_calendar.url, CALENDAR_USER, "any", 5.0, CALENDARS)
    [booking] = calendar.find("etat-civil", SIP_CALLER, datetime.fromisoformat(OPEN_HOURS))
    assert booking.slot.start.date() == datetime(2026, 12, 3).date() and booking.name == "Martin"
