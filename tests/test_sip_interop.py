"""Interop: a second SIP client, baresip (Debian's ``baresip-core``), calls the bot.

sipp checks the protocol paths; baresip is a real softphone with its own SIP and RTP stacks
(libre): it places the call, streams a French clip from a WAV file, and dumps what it
receives (its ``sndfile`` module) — the bot's greeting must be in that dump, and the bot
must have heard the caller. baresip hangs up at the end of its WAV file.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbot.sip_bench import free_udp_ports, sip_server
from callbot.speech.audio import chunks, read_wav, rms, silence, write_wav
from callbot.voice_server import VoiceServer

pytestmark = pytest.mark.skipif(shutil.which("baresip") is None,
                                reason="needs Debian's baresip-core (scripts/test)")

CLIP = Path(__file__).parent / "fixtures" / "audio" / "fr_horaires.wav"
MODULES = Path("/usr/lib/baresip/modules")
#: After the caller's words, time for the bot to hear them and answer.
LISTEN_SEC = 7.0
BARESIP_TIMEOUT_SEC = 60
#: 16-bit RMS above which a 20 ms piece of the received audio is speech, not silence.
SPEECH_RMS = 300


@pytest.fixture(scope="module")
def bot(nlu_cache: Path, brain: object) -> Iterator[tuple[VoiceServer, int]]:
    with sip_server(nlu_cache, max_calls=4) as (server, port, _):
        yield server, port


def _baresip_config(home: Path, caller_wav: Path) -> Path:
    """A headless baresip: the WAV file as microphone, no loudspeaker, received audio dumped."""
    rtp = free_udp_ports(20)
    config = home / "config"
    config.write_text("\n".join([
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{free_udp_ports(1)}",
        f"audio_source aufile,{caller_wav}",
        "audio_player nil",
        "audio_alert nil",
        f"rtp_ports {rtp}-{rtp + 19}",
        f"module_path {MODULES}",
        *(f"module {name}.so" for name in ("g711", "aufile", "sndfile", "account", "menu")),
        f"snd_path {home}",
        "",
    ]))
    (home / "accounts").write_text("<sip:interop@127.0.0.1>;regint=0;audio_codecs=PCMU/8000\n")
    (home / "contacts").write_text("")
    return home


def test_baresip_call_hears_the_greeting_and_is_heard(bot: tuple[VoiceServer, int],
                                                      tmp_path: Path) -> None:
    server, port = bot
    log_start = len(server.log)
    audio, rate = read_wav(CLIP)
    caller_wav = write_wav(tmp_path / "caller.wav", audio + silence(LISTEN_SEC, rate), rate)
    home = _baresip_config(tmp_path, caller_wav)

    result = subprocess.run(
        ["baresip", "-f", str(home), "-e", f"/dial sip:callbot@127.0.0.1:{port}",
         "-t", str(BARESIP_TIMEOUT_SEC)],
        capture_output=True, text=True, timeout=BARESIP_TIMEOUT_SEC + 30, check=False)

    assert "Call established" in result.stdout, result.stdout[-3000:]
    dumps = list(tmp_path.glob("dump-*-dec.wav"))
    assert dumps, f"baresip dumped no received audio:\n{result.stdout[-2000:]}"
    received, received_rate = read_wav(dumps[0])
    speech = [piece for piece in chunks(received, received_rate, 20) if rms(piece) > SPEECH_RMS]
    assert len(speech) * 0.02 > 2.0, "less than 2 s of the bot's voice reached baresip"
    call_log = "".join(server.log[log_start:])
    assert "call started on sip" in call_log
    assert "caller:" in call_log, "the bot did not hear baresip's caller audio"
    assert "call ended by the caller" in call_log
