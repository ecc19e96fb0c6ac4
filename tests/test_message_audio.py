"""A message's audio (issue 15, item 3): kept beside the message only when recording is on,
played from the agents' list (audited), with its own period, and gone with its message.

Real parts: the brain and the message dialogue, a real SMTP server (aiosmtpd), SQLite,
files on disk, pipecat's test pipeline for the processor that gathers a sentence's audio.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from errand_servers import MailServer
from pipecat.frames.frames import (
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import run_test
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.brain import Brain
from callbot.config import Settings, StoreSettings
from callbot.errands.connectors.factory import Connectors
from callbot.errands.connectors.smtp_mail import SmtpMailer
from callbot.errands.runner import ErrandRunner
from callbot.pipeline.frames import HeardAudioFrame
from callbot.pipeline.utterance_audio import PRE_ROLL_SEC, UtteranceAudio
from callbot.store.accounts import recent_audit
from callbot.store.database import migrate
from callbot.store.message_audio import HeardAudio, audio_path, purge_audio, save_audio
from callbot.store.messages import blocking, open_messages
from callbot.store.retention import purge
from tests.test_messages import NOW, add_call, leave, store  # noqa: F401
from tests.test_store import store_settings  # noqa: F401
from tests.test_web import client, engine, login, small_data, web_settings  # noqa: F401

MESSAGE = "bonjour je voudrais savoir si mon acte de mariage est prêt"
SENTENCE = HeardAudio(bytes(range(256)) * 50, 8000)  # 0.8 s of PCM16 at 8 kHz


@pytest.fixture(scope="module")
def smtp() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


def _leave_at_night(brain: Brain, kept_in: StoreSettings, heard: HeardAudio,
                    smtp: MailServer) -> None:
    """The out-of-hours dialogue up to the message, said with its audio (as a voice call
    gives it when recording is on)."""
    blocking(kept_in, lambda opened: migrate(opened, None))
    call = brain.conversation(lambda: datetime(2026, 12, 8, 22, 0))
    call.caller_id = "+33612345678"
    call.errands = ErrandRunner(Connectors(mail=SmtpMailer("127.0.0.1", smtp.port)), kept_in)
    call.start()
    call.hear("je voudrais parler à quelqu'un")
    assert call.hear("oui").text.startswith("Je vous écoute")
    call.hear(MESSAGE, heard=heard)
    assert call.hear("oui").text.startswith("Votre message est transmis")


def test_with_recording_on_the_message_keeps_its_sentence_as_audio(
        brain: Brain, tmp_path: Path, smtp: MailServer) -> None:
    kept_in = StoreSettings(state_dir=tmp_path, recording=True)
    _leave_at_night(brain, kept_in, SENTENCE, smtp)
    [kept] = blocking(kept_in, open_messages)
    path = audio_path(kept_in, kept.id)
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
        assert wav.readframes(wav.getnframes()) == SENTENCE.pcm
    assert os.stat(path).st_mode & 0o077 == 0  # the caller's voice: the service account only


def test_with_recording_off_only_the_transcript_is_kept(brain: Brain, tmp_path: Path,
                                                        smtp: MailServer) -> None:
    kept_in = StoreSettings(state_dir=tmp_path)  # recording off, the default
    _leave_at_night(brain, kept_in, SENTENCE, smtp)
    [kept] = blocking(kept_in, open_messages)
    assert "acte de mariage" in kept.text and not audio_path(kept_in, kept.id).exists()


def _aged(path: Path, days: float) -> Path:
    then = (NOW - timedelta(days=days)).timestamp()
    os.utime(path, (then, then))
    return path


def test_the_audio_has_its_own_period_and_goes_with_its_message(tmp_path: Path) -> None:
    kept_in = StoreSettings(state_dir=tmp_path, recording=True, message_audio_days=30)
    old = _aged(save_audio(kept_in, 1, SENTENCE), 31)
    recent = _aged(save_audio(kept_in, 2, SENTENCE), 2)
    orphan = _aged(save_audio(kept_in, 3, SENTENCE), 2)  # its message purged with its call
    writing = _aged(save_audio(kept_in, 4, SENTENCE), 0.01)  # its message stored a moment ago
    assert purge_audio(old.parent, NOW, 30, kept_ids={1, 2}) == 2
    assert not old.exists() and not orphan.exists() and recent.exists() and writing.exists()
    assert purge_audio(old.parent, NOW, None, kept_ids={2, 4}) == 2  # recording switched off
    assert list(old.parent.iterdir()) == []


async def test_the_purge_deletes_the_audio_of_messages_purged_with_their_call(
        store: AsyncEngine, tmp_path: Path) -> None:  # noqa: F811
    settings = StoreSettings(state_dir=tmp_path, recording=True)
    await add_call(store, "old-call", NOW - timedelta(days=100))
    gone = await leave(store, "appel purgé", NOW - timedelta(days=1), "old-call")
    kept = await leave(store, "récent", NOW - timedelta(days=1), "old-call-2")
    for message_id in (gone, kept):
        _aged(save_audio(settings, message_id, SENTENCE), 2)
    report = await purge(store, 90, NOW, message_audio_dir=audio_path(settings, 0).parent)
    assert (report.messages, report.message_audio) == (1, 1)
    assert not audio_path(settings, gone).exists() and audio_path(settings, kept).exists()


async def test_agents_play_a_message_s_audio_and_each_listening_is_audited(
        client: TestClient, engine: AsyncEngine,  # noqa: F811
        web_settings: Settings) -> None:  # noqa: F811
    with_audio = await leave(engine, "message avec sa voix")
    without = await leave(engine, "message sans audio", NOW + timedelta(minutes=1), "call-2")
    save_audio(web_settings.store, with_audio, SENTENCE)
    await login(client, "ops")
    html = await (await client.get("/messages")).text()
    assert f'src="/messages/{with_audio}/audio"' in html
    assert f'src="/messages/{without}/audio"' not in html
    heard = await client.get(f"/messages/{with_audio}/audio")
    assert heard.status == 200 and heard.headers["Cache-Control"] == "no-store"
    assert (await heard.read())[:4] == b"RIFF"
    assert (await client.get(f"/messages/{without}/audio")).status == 404
    [entry] = [e for e in await recent_audit(engine) if e["action"] == "message.listen"]
    assert (entry["username"], entry["target"]) == ("ops", f"message {with_audio}")
    client.session.cookie_jar.clear()
    anonymous = await client.get(f"/messages/{with_audio}/audio", allow_redirects=False)
    assert anonymous.status in (302, 401)


def _audio(value: int, ms: int = 20, rate: int = 8000) -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=bytes([value, 0]) * (rate * ms // 1000), sample_rate=rate,
                              num_channels=1)


async def test_a_sentence_s_audio_follows_the_vad_stop_with_its_pre_roll() -> None:
    before = [_audio(1) for _ in range(40)]  # 0.8 s before the VAD said "speaking"
    speech = [_audio(2) for _ in range(10)]
    down, _ = await run_test(UtteranceAudio(), frames_to_send=[
        *before, VADUserStartedSpeakingFrame(), *speech, VADUserStoppedSpeakingFrame(),
        _audio(3)])
    [heard] = [f for f in down if isinstance(f, HeardAudioFrame)]
    kinds = [type(f) for f in down if not isinstance(f, InputAudioRawFrame)]
    assert kinds.index(HeardAudioFrame) == kinds.index(VADUserStoppedSpeakingFrame) + 1
    assert heard.sample_rate == 8000 and heard.pcm.endswith(bytes([2, 0]) * 1600)
    pre_roll = heard.pcm[:-len(b"".join(f.audio for f in speech))]
    assert set(pre_roll[::2]) == {1} and len(pre_roll) == int(PRE_ROLL_SEC * 8000) * 2
    assert sum(isinstance(f, InputAudioRawFrame) for f in down) == 51  # every frame goes on
