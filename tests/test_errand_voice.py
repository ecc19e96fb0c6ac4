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

Only the WebSocket bridge is here, not SIP: the same booking over SIP (sipp's signalling, the
clips as µ-law RTP from ``RtpPeer``, the bot's answers read from the serve's log, "au revoir"
so that the bot sends the BYE) booked in Radicale, but cost 31-37 s (load 3-7), on top of this
test's 19-30 s: over the ~40 s these tests may add to CI. It needs SIP on the shared serve too.
The SIP audio path itself is tested in tests/test_sip_endpoint.py, and both lines drive the
same ``Conversation``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from errand_servers import CALENDAR_USER, CALENDARS, Radicale

from callbot.call_client import Step, call_websocket
from callbot.errands.connectors.caldav_calendar import CalDavCalendar
from callbot.voice_server import OPEN_HOURS, VoiceServer

AUDIO = Path(__file__).parent / "fixtures" / "audio"
CALLER = "+33644444444"
CLIPS = ("fr_rdv_carte", "fr_trois_decembre_matin", "fr_le_premier", "fr_martin", "fr_oui_confirme")


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
