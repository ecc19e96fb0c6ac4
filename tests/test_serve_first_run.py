"""``callbot serve`` on a first run: it fetches missing models; unreachable, it says what to put
where and still serves the web app and the text conversation; it opens the first admin account
with a one-time password, printed once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from callbot.ports import free_port

MANIFEST = """
[[model]]
name = "fr_FR-test-voice"
kind = "tts"
engine = "piper"
language = "fr_FR"
sample_rate = 22050
source = "download"
files = [
    {{ url = "http://127.0.0.1:{port}/fr_FR-test-voice.onnx", size = 10, md5 = "0" }},
    {{ url = "http://127.0.0.1:{port}/fr_FR-test-voice.onnx.json", size = 10, md5 = "0" }},
]
"""


def _offline_env(tmp_path: Path, nlu_cache: Path) -> dict[str, str]:
    """Nothing listens on the manifest's port: the download fails like it does offline."""
    manifest = tmp_path / "voices.toml"
    manifest.write_text(MANIFEST.format(port=free_port()), encoding="utf-8")
    return {**os.environ, "CALLBOT_NLU__CACHE_DIR": str(nlu_cache),
            "CALLBOT_MODELS__MODELS_DIR": str(tmp_path / "models"),
            "CALLBOT_MODELS__MANIFESTS": f'["{manifest}"]',
            "CALLBOT_MODELS__TTS_VOICE": "fr_FR-test-voice",
            "CALLBOT_STORE__STATE_DIR": str(tmp_path / "state"),
            "CALLBOT_VOICE__WEBSOCKET_PORT": str(free_port()),
            "CALLBOT_VOICE__AUDIOSOCKET_PORT": str(free_port())}


def test_unreachable_model_with_no_web_stops_serve_with_where_to_put_it(
        tmp_path: Path, nlu_cache: Path, brain: object) -> None:
    done = subprocess.run([sys.executable, "-m", "callbot.cli", "serve", "--no-web"],
                          env=_offline_env(tmp_path, nlu_cache), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 2
    assert "fr_FR-test-voice.onnx" in done.stderr
    assert f"put them in {tmp_path / 'models' / 'fr_FR-test-voice'}" in done.stderr
    assert "Traceback" not in done.stderr


class _Log:
    """serve's stderr, read in a thread, so the test can wait for a line."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.text = ""
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            with self._changed:
                self.text += line
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout_sec: float = 240) -> re.Match:
        deadline = time.monotonic() + timeout_sec
        with self._changed:
            while (found := re.search(pattern, self.text)) is None:
                assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.text[-3000:]}"
                self._changed.wait(1)
        return found


def test_offline_serve_still_serves_the_web_app_and_a_one_time_admin(
        tmp_path: Path, nlu_cache: Path, brain: object) -> None:
    web_port = free_port()
    env = {**_offline_env(tmp_path, nlu_cache), "CALLBOT_WEB__PORT": str(web_port)}
    process = subprocess.Popen([sys.executable, "-m", "callbot.cli", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = _Log(process)
    try:
        log.wait_for("web app and the text conversation only")
        assert f"put them in {tmp_path / 'models' / 'fr_FR-test-voice'}" in log.text
        password = log.wait_for(r"as 'admin' with the one-time password (\S+)").group(1)
        base = f"http://127.0.0.1:{web_port}"
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        login_page = browser.open(f"{base}/login").read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)  # type: ignore[union-attr]
        form = urllib.parse.urlencode({"username": "admin", "password": password,
                                       "csrf_token": csrf, "next": "/phone"}).encode()
        landed = browser.open(urllib.request.Request(f"{base}/login", data=form,
                                                     headers={"Accept": "text/html"}))
        assert landed.url == f"{base}/account/password"  # the printed password works once
        assert "Choisissez votre mot de passe" in landed.read().decode()
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in log.text
