"""G.722 on the SIP endpoint: the codec (libg722), the SDP answer, the serializer at 16 kHz.

The calls with real peers are in test_sip_interop.py (baresip's own G.722 both ways) and below
(sipp streaming G.722 and pressing a key over RFC 4733 in a G.722 call).
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import numpy as np
import pytest
from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame

from callbot.config import Settings, SipSettings
from callbot.rtp_capture import RtpCapture
from callbot.sip.codecs import G722_CODEC, PCMU, G722Coder, codec_named
from callbot.sip.rtp_wire import SAMPLES_PER_PACKET
from callbot.sip.sdp import SdpError, SdpOffer, answer
from callbot.sip.serializer import SipSerializer
from callbot.sip_bench import KEEP_TALKING_ENV, caller_media_port, free_udp_ports, sip_server
from callbot.sipp import run_calls, sipp_available
from callbot.speech.audio import read_wav, resample_pcm16, rms

CLIP = Path(__file__).parent / "fixtures" / "audio" / "fr_horaires.wav"
RATE_HZ = 16000
PACKET_PCM_BYTES = RATE_HZ * 20 // 1000 * 2  # 20 ms of 16-bit PCM at 16 kHz

#: A desk phone offering G.722 alone (payload type 9, RFC 3551 clock rate 8000) and DTMF.
G722_ONLY_OFFER = """v=0
o=phone 1 1 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=audio 4000 RTP/AVP 9 101
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
"""


def _tone(frequency_hz: float, seconds: float, amplitude: int = 8000) -> bytes:
    t = np.arange(int(RATE_HZ * seconds)) / RATE_HZ
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype("<i2").tobytes()


def _snr_db(original: bytes, decoded: bytes) -> float:
    """Signal to error after aligning for the codec's delay (its QMF filters, a few samples)."""
    x = np.frombuffer(original, dtype=np.int16).astype(np.float64)
    y = np.frombuffer(decoded, dtype=np.int16).astype(np.float64)
    span = x.size - 100
    delay = max(range(100), key=lambda d: float(np.dot(x[:span], y[d:d + span])))
    error = x[:span] - y[delay:delay + span]
    return float(10 * np.log10(np.mean(x[:span] ** 2) / np.mean(error**2)))


def _round_trip(pcm: bytes) -> tuple[list[bytes], bytes]:
    """``pcm`` encoded in 20 ms packets by one coder, decoded by another (the far end)."""
    sender, receiver = G722Coder(), G722Coder()
    packets = [sender.encode(pcm[i:i + PACKET_PCM_BYTES])
               for i in range(0, len(pcm), PACKET_PCM_BYTES)]
    return packets, b"".join(receiver.decode(packet) for packet in packets)


def test_a_wideband_tone_survives_the_round_trip() -> None:
    """6 kHz: above anything G.711 carries, inside G.722's 7 kHz band."""
    tone = _tone(6000, 1.0)
    packets, decoded = _round_trip(tone)
    assert {len(packet) for packet in packets} == {SAMPLES_PER_PACKET}  # 160 bytes per 20 ms
    assert len(decoded) == len(tone)
    assert _snr_db(tone, decoded) > 20  # 26.6 dB measured: the high band has 2-bit ADPCM


def test_french_speech_survives_the_round_trip() -> None:
    audio, rate = read_wav(CLIP)
    speech = resample_pcm16(audio, rate, RATE_HZ)
    _, decoded = _round_trip(speech)
    assert _snr_db(speech, decoded) > 30  # 38.6 dB measured


def test_frames_of_any_length_encode_as_one_stream() -> None:
    """The coder keeps ADPCM state and an odd sample across calls: however the pipeline cuts
    its frames, the bytes on the wire are those of the whole."""
    tone = _tone(440, 0.2)
    whole = G722Coder().encode(tone)
    coder = G722Coder()
    cuts = [0, 2, 6, 642, 1000, 2562, len(tone)]  # an odd sample count at 2 and 1000 bytes
    pieces = b"".join(coder.encode(tone[a:b]) for a, b in zip(cuts, cuts[1:], strict=False))
    assert pieces == whole and len(whole) == len(tone) // 4


def test_the_silence_payload_is_quiet_after_speech() -> None:
    """What the pacer sends while the bot listens, decoded by a phone that just heard speech."""
    coder = G722Coder()
    coder.decode(G722Coder().encode(_tone(700, 0.5)))
    quiet = [rms(coder.decode(G722_CODEC.silence)) for _ in range(10)]
    assert max(quiet[1:]) < 50  # the first packet still rings out the speech
    assert len(G722_CODEC.silence) == SAMPLES_PER_PACKET


def test_g722_only_offer_is_answered_with_g722_and_dtmf() -> None:
    offer = SdpOffer.parse(G722_ONLY_OFFER)
    assert offer.choose_codec() == 9
    lines = answer(offer, "198.51.100.7", 20000, session_id=7).split("\r\n")
    assert lines[5:9] == ["m=audio 20000 RTP/AVP 9 101", "a=rtpmap:9 G722/8000",
                          "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15"]


@pytest.mark.parametrize(("formats", "preference", "chosen"), [
    ("0 8 9 101", ("G722", "PCMU", "PCMA"), 9),  # G.722 wins wherever the offer puts it
    ("8 0 101", ("G722", "PCMU", "PCMA"), 0),  # not offered: PCMU as before
    ("8 101", ("G722", "PCMU", "PCMA"), 8),
    ("9 0 101", ("PCMU", "PCMA"), 0),  # CALLBOT_SIP__CODECS=PCMU,PCMA: narrowband only
    ("9 101", ("PCMU", "PCMA"), None),  # …and a G.722-only offer is refused (488)
])
def test_the_codec_follows_our_preference(formats: str, preference: tuple[str, ...],
                                          chosen: int | None) -> None:
    offer = SdpOffer.parse(f"v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP {formats}\n"
                           "a=rtpmap:101 telephone-event/8000\n")
    assert offer.choose_codec(preference) == chosen
    if chosen is None:
        with pytest.raises(SdpError, match="none of PCMU, PCMA in the offer"):
            answer(offer, "127.0.0.1", 20000, preference=preference)
    else:
        rtpmap = f"a=rtpmap:{chosen} {codec_named(offer.name_of(chosen) or '').name}/8000"
        assert rtpmap in answer(offer, "127.0.0.1", 20000, preference=preference)


def test_a_reinvite_without_the_calls_codec_is_not_answered() -> None:
    """Mid-call the codec stays (the pipeline runs at its rate): the endpoint answers a
    re-INVITE with the call's codec alone, and an offer without it keeps the media as is."""
    offer = SdpOffer.parse(G722_ONLY_OFFER.replace("9 101", "0 101").replace("9 G722", "0 PCMU"))
    with pytest.raises(SdpError, match="none of G722 in the offer"):
        answer(offer, "127.0.0.1", 20000, preference=("G722",))


def test_malformed_offers_still_fail_to_parse() -> None:
    with pytest.raises(SdpError, match="malformed media line 'm=audio x RTP/AVP 9'"):
        SdpOffer.parse("v=0\nc=IN IP4 10.0.0.1\nm=audio x RTP/AVP 9\n")


def test_codec_preference_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SipSettings().codec_preference == ("G722", "PCMU", "PCMA")
    monkeypatch.setenv("CALLBOT_SIP__CODECS", "PCMU,PCMA")
    assert Settings().sip.codec_preference == ("PCMU", "PCMA")
    assert SipSettings(codecs=" pcma, g722 ").codec_preference == ("PCMA", "G722")
    with pytest.raises(ValueError, match="sip.codecs 'G729': use some of G722, PCMU, PCMA"):
        SipSettings(codecs="G729")


async def test_the_serializer_runs_a_g722_call_at_16_khz() -> None:
    serializer = SipSerializer(G722_CODEC)
    assert serializer.sample_rate == RATE_HZ
    payload = await serializer.serialize(OutputAudioRawFrame(_tone(440, 0.04), RATE_HZ, 1))
    assert isinstance(payload, bytes) and len(payload) == 2 * SAMPLES_PER_PACKET  # 40 ms
    frame = await serializer.deserialize(payload[:SAMPLES_PER_PACKET])
    assert isinstance(frame, InputAudioRawFrame)
    assert (frame.sample_rate, len(frame.audio)) == (RATE_HZ, PACKET_PCM_BYTES)
    narrow = SipSerializer(PCMU)
    assert narrow.sample_rate == 8000
    assert len(await narrow.serialize(OutputAudioRawFrame(bytes(320), 8000, 1))) == 160


@pytest.mark.skipif(not sipp_available(), reason="needs sipp (Debian sip-tester, scripts/test)")
def test_sipp_g722_call_is_heard_answered_and_transferred_by_dtmf(nlu_cache: Path, brain: object,
                                                                 tmp_path: Path) -> None:
    """A real sipp offers G.722 alone and streams the French clips as G.722 (its rtp_stream,
    payload type 9), then presses 0 (RFC 4733, telephone-event/8000 beside G.722). The bot's
    RTP is captured on the loopback where root may, and decoded there as G.722. As in the
    bench, misunderstandings never transfer (the test model is Korean): only the key does."""
    with sip_server(nlu_cache, max_calls=2, **KEEP_TALKING_ENV) as (server, port, rtp):
        capture = RtpCapture(*rtp) if RtpCapture.available() else None
        with capture or contextlib.nullcontext():
            run = run_calls(f"127.0.0.1:{port}", tmp_path, calls=1, concurrent=1, call_sec=20,
                            sip_port=free_udp_ports(1), media_port=caller_media_port(rtp),
                            press=("0", 9.0), codec="g722")
            time.sleep(0.5)  # the last packets in flight
        log = server.log_text()
    assert run.successful == 1, f"{run.output}\n--- the bot's log ---\n{log[-4000:]}"
    messages = "".join(path.read_text() for path in tmp_path.glob("*_messages.log"))
    answer_sdp = messages.split("SIP/2.0 200 OK", 1)[1].split("-----", 1)[0]
    assert re.search(r"m=audio \d+ RTP/AVP 9 101", answer_sdp), answer_sdp
    assert "a=rtpmap:9 G722/8000" in answer_sdp and "telephone-event/8000" in answer_sdp
    assert "(G722, RTP" in log and "call started on sip at 16000 Hz" in log
    assert "caller:" in log, "nothing of the caller's G.722 speech was recognised"
    assert "rtp: DTMF 0" in log and "transfer accepted (NOTIFY 200)" in log
    if capture is not None:
        [stream] = capture.streams()
        assert stream.voiced > 50, "the bot's G.722 did not decode to speech where sipp got it"
