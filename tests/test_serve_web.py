"""``callbot serve`` with ``web.enabled`` (``serve --web``): one process answers calls and
serves the dashboard, and stops both on SIGTERM."""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path

from callbot.ports import free_port
from callbot.voice_server import voice_server


def test_serve_with_web_serves_the_dashboard_too(nlu_cache: Path, brain: object) -> None:
    port = free_port()
    with voice_server(nlu_cache, CALLBOT_WEB__ENABLED="true", CALLBOT_WEB__PORT=str(port)) as bot:
        assert f"dashboard and FAQ editor: http://127.0.0.1:{port}/" in bot.log_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as health:
            assert health.status == 200 and b'"ok"' in health.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as login:
            assert "Callbot" in login.read().decode()
        bot.process.send_signal(signal.SIGTERM)
        assert bot.process.wait(60) == 0
