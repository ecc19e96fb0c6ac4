"""« Essayer le robot »: the browser phone of the web app.

The text conversation is tested in-process (aiohttp test client, real brain, SQLite); the
microphone call in a real headless Chromium whose fake microphone plays a French WAV into a
real ``callbot serve`` (Whisper for the French speech, Piper's test voice): the greeting is
heard, the question answered in the live transcript, the call in the call log.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from callbot.brain import Brain
from callbot.config import Settings, StoreSettings
from callbot.speech.audio import read_wav, resample_pcm16, silence, write_wav
from callbot.store.accounts import add_user
from callbot.store.database import engine_from_settings, migrate
from callbot.voice_server import OPEN_HOURS, VoiceServer
from callbot.web.app import init_app
from callbot.web.phone import PhoneLine
from tests.test_web import PASSWORD, login


async def _client(aiohttp_client: object, tmp_path: Path, settings: Settings,
                  brain: Brain) -> TestClient:
    web_settings = settings.model_copy(update={"store": StoreSettings(state_dir=tmp_path)})
    engine = engine_from_settings(web_settings.store)
    await migrate(engine, None)
    await add_user(engine, "olga", PASSWORD, "ops")
    # a Tuesday morning: the switchboard is open, so 0 transfers whatever the real time is
    opened = Brain(settings.model_copy(update={"fixed_now": "2026-12-01T10:30"}), brain.nlu,
                   brain.kb)
    app = init_app(web_settings, engine, PhoneLine(load_brain=lambda: opened))
    client = await aiohttp_client(app)  # type: ignore[operator]
    assert await login(client, "olga") == 303
    return client


async def test_the_page_offers_the_text_conversation_without_voice(
        aiohttp_client: object, tmp_path: Path, settings: Settings, brain: Brain) -> None:
    client = await _client(aiohttp_client, tmp_path, settings, brain)
    page = await (await client.get("/phone")).text()
    assert "Essayer le robot" in page and 'id="say"' in page
    assert 'id="voice-missing"' in page and "callbot serve" in page
    assert (await client.get("/phone/call")).status == 404  # no voice stack under `web` alone


async def test_text_conversation_answers_with_the_topic_and_transfers_on_zero(
        aiohttp_client: object, tmp_path: Path, settings: Settings, brain: Brain) -> None:
    client = await _client(aiohttp_client, tmp_path, settings, brain)
    async with client.ws_connect("/phone/text") as ws:
        assert json.loads(await ws.receive_str())["type"] == "started"
        greeting = json.loads(await ws.receive_str())["turn"]
        assert greeting["caller"] is None and greeting["bot"]
        await ws.send_str("pas du json")
        assert "invalid JSON" in json.loads(await ws.receive_str())["message"]
        await ws.send_str(json.dumps({"type": "say", "text": "quand passent les poubelles ?"}))
        turn = json.loads(await ws.receive_str())["turn"]
        assert (turn["intent"], turn["action"]) == ("waste_collection", "answer")
        assert turn["title"] == brain.topic_label("waste_collection") and turn["confidence"] > 0
        await ws.send_str(json.dumps({"type": "dtmf", "digit": "0"}))
        transfer = json.loads(await ws.receive_str())["turn"]
        assert transfer["action"] == "transfer"
        assert json.loads(await ws.receive_str())["type"] == "hangup"


async def test_the_text_conversation_needs_a_login(aiohttp_client: object, tmp_path: Path,
                                                   settings: Settings, brain: Brain) -> None:
    client = await _client(aiohttp_client, tmp_path, settings, brain)
    client.session.cookie_jar.clear()
    assert (await client.get("/phone/text")).status == 401


CHROMIUM = Path("/usr/bin/chromium")
AUDIO = Path(__file__).parent / "fixtures" / "audio"
NEW_PASSWORD = "mon mot de passe de mairie"


def _fake_microphone(target: Path) -> Path:
    """The French question at 16 kHz between silences; Chromium loops the file, so the bot
    hears the question again some 20 s later (only the first turn is checked)."""
    question, rate = read_wav(AUDIO / "fr_poubelles.wav")
    audio = silence(8.0, 16000) + resample_pcm16(question, rate, 16000) + silence(10.0, 16000)
    return write_wav(target, audio, 16000)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is missing (scripts/test "
                    "installs it)")
def test_a_call_from_the_browser_microphone_is_answered_and_logged(
        french_server: tuple[VoiceServer, str], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    server, base = french_server
    found = re.search(r"as 'admin' with the one-time password (\S+)", server.log_text())
    assert found, server.log_text()[-3000:]
    microphone = _fake_microphone(tmp_path / "question.wav")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}",
            "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(locale="fr-FR")
        page.goto(f"{base}/phone")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", found.group(1))
        page.click("button[type=submit]")
        assert page.url.endswith("/account/password")  # the printed password works once
        page.fill("input[name=password]", NEW_PASSWORD)
        page.fill("input[name=again]", NEW_PASSWORD)
        page.click("button[type=submit]")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", NEW_PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/phone")
        page.click("#call")
        answered = page.wait_for_selector(
            "#transcript li.bot[data-intent=waste_collection]", timeout=90_000)
        assert answered is not None and answered.get_attribute("data-action") == "answer"
        heard_ms = int(page.evaluate("document.body.dataset.heardMs || '0'"))
        assert heard_ms > 2000, "the greeting and answer were not played"
        caller_lines = page.locator("#transcript li.caller").all_inner_texts()
        assert any("poubelle" in line.lower() for line in caller_lines), caller_lines
        page.click("#hangup")
        page.wait_for_selector("body[data-call-ended=yes]", timeout=10_000)
        channels: list[str] = []
        day = OPEN_HOURS[:10]  # the serve's clock is fixed: the call is logged on that day
        for _ in range(20):  # the call is logged as it ends: on a busy machine, a moment later
            page.goto(f"{base}/calls?channel=browser&from={day}&to={day}")
            channels = page.locator("table tr td:nth-child(2)").all_inner_texts()
            if channels:
                break
            page.wait_for_timeout(500)
        browser.close()
    assert any(text.startswith("browser") for text in channels), channels  # a test call
