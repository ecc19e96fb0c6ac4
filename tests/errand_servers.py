"""Real servers for the errand connector tests: Radicale, a node.js SMSC, aiosmtpd, aiohttp.

Each starts in well under a second and stops in its ``stop()``; the test modules start one per
module. ``silent_port`` is the peer that accepts a connection and never answers: what a hung
server looks like, to check that every connector gives up within its timeout.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from callbot.ports import free_port

_START_SEC = 10.0
_STOP_SEC = 5.0
SMSC_SCRIPT = Path(__file__).parent / "fixtures" / "smsc" / "smsc.js"
#: Where scripts/test installs npm's smpp package for the SMSC.
SMSC_MODULES = Path.home() / ".cache" / "callbot" / "smsc" / "node_modules"


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it lingers; a stopped (SIGSTOP) process is woken first."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)
    process.terminate()
    try:
        process.wait(_STOP_SEC)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(_STOP_SEC)


def _wait_for_port(port: int, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + _START_SEC
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    stop_process(process)
    raise AssertionError(f"nothing listens on {port} after {_START_SEC} s:\n{log.read_text()}")


@dataclass
class Radicale:
    """A Radicale 3 process on 127.0.0.1, any user accepted (auth none, owner-only rights)."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> Radicale:
        log = self.folder / "radicale.log"
        command = [sys.executable, "-m", "radicale", "--server-hosts", f"127.0.0.1:{self.port}",
                   "--storage-filesystem-folder", str(self.folder / "collections"),
                   "--auth-type", "none", "--rights-type", "owner_only",
                   "--logging-level", "warning"]
        with log.open("ab") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        _wait_for_port(self.port, self.process, log)
        return self

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, never answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


#: The calendar user and calendar ids a test ``callbot serve`` books in (``calendar_env``).
CALENDAR_USER = "standard"
CALENDARS = {"etat-civil": "etat-civil"}


def calendar_env(radicale: Radicale) -> dict[str, str]:
    """The ``CALLBOT_ERRANDS__CALENDAR__*`` settings of a serve that books in ``radicale``."""
    return {"CALLBOT_ERRANDS__CALENDAR__URL": radicale.url,
            "CALLBOT_ERRANDS__CALENDAR__USERNAME": CALENDAR_USER,
            "CALLBOT_ERRANDS__CALENDAR__PASSWORD": "any",
            "CALLBOT_ERRANDS__CALENDAR__CALENDARS": json.dumps(CALENDARS)}


@dataclass
class Smsc:
    """tests/fixtures/smsc/smsc.js: binds one account, logs every submit_sm as a JSON line."""

    folder: Path
    system_id: str = "callbot"
    password: str = "secret"
    port: int = 0
    process: subprocess.Popen[str] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "submits.jsonl"

    def start(self) -> Smsc:
        node = shutil.which("node")
        if node is None or not (SMSC_MODULES / "smpp").is_dir():
            pytest.skip("the SMSC needs node.js and npm's smpp package in "
                        f"{SMSC_MODULES} (scripts/test installs them)")
        self.process = subprocess.Popen(
            [node, str(SMSC_SCRIPT), "0", self.system_id, self.password, str(self.log)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "NODE_PATH": str(SMSC_MODULES)})
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], _START_SEC)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("listening "):
            stop_process(self.process)
            raise AssertionError(f"the SMSC did not start: {line}{self.process.stdout.read()}")
        self.port = int(line.split()[1])
        return self

    def submits(self) -> list[dict[str, Any]]:
        """Every submit_sm received so far, oldest first."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            if self.process.stdout is not None:
                self.process.stdout.close()


class MailServer:
    """aiosmtpd on a free port, its own handler: keeps every message, answers 550 to the
    refused recipients."""

    def __init__(self, refused: frozenset[str] = frozenset()) -> None:
        self.refused = refused
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> MailServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refused:
            return "550 5.1.1 Boîte inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@dataclass
class GatewayRequest:
    path: str
    headers: dict[str, str]
    body: Any


class HttpGateway:
    """An aiohttp SMS gateway in its own thread: /sms answers 200, /broken 500, /slow late."""

    def __init__(self, token: str, slow_sec: float = 3.0) -> None:
        self.token = token
        self.slow_sec = slow_sec
        self.requests: list[GatewayRequest] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sms-gateway",
                                        daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(GatewayRequest(request.path, dict(request.headers),
                                            await request.json()))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.path == "/broken":
            return web.json_response({"error": "upstream down"}, status=500)
        if request.path == "/slow":
            await asyncio.sleep(self.slow_sec)
        return web.json_response({"id": f"http-{len(self.requests)}"})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> HttpGateway:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(_START_SEC)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(_STOP_SEC)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_STOP_SEC)
        self._loop.close()


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never sends a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]
