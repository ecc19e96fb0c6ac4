"""One ``rasa run --enable-api`` process on localhost: start, wait for the model, swap, stop.

Synchronous on purpose: it is driven by the CLI, the tests and the comparison, never from
inside the bot's event loop (the bot only talks to a server through ``RasaHttpNLU``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from loguru import logger

from callbot.rasa.environment import RasaEnv
from callbot.rasa.progress import RasaSetupError, rasa_environ

READY_TIMEOUT_SEC = 300.0
_POLL_SEC = 0.5
_STOP_SEC = 15.0
_HTTP_SEC = 10.0


def _http_json(method: str, url: str, body: dict | None = None,
               timeout_sec: float = _HTTP_SEC) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_sec) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read().decode(errors="replace")[:500]}


class RasaServer:
    """A Rasa server process serving one model; a context manager that always stops it."""

    def __init__(self, env: RasaEnv, model: Path, port: int, log_path: Path,
                 host: str = "127.0.0.1") -> None:
        self.env, self.model, self.port, self.host, self.log_path = env, model, port, host, log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [str(self.env.rasa), "run", "--enable-api", "--interface", self.host,
                   "--port", str(self.port), "--model", str(self.model)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env=rasa_environ(), start_new_session=True,
                                            cwd=self.model.parent)
        logger.info(f"Rasa server pid {self.process.pid} starting on {self.url}, log {self.log_path}")

    def model_loaded(self) -> bool:
        """GET /status names a loaded model (the API answers before the model is ready)."""
        try:
            status, body = _http_json("GET", f"{self.url}/status", timeout_sec=2.0)
        except (OSError, ValueError):
            return False
        return status == 200 and bool(body.get("model_file"))

    def wait_ready(self, timeout_sec: float = READY_TIMEOUT_SEC, quiet: bool = True) -> float:
        """Block until the model is loaded; return the seconds waited. Raises if Rasa dies."""
        started = time.monotonic()
        shown = 0
        while not self.model_loaded():
            elapsed = time.monotonic() - started
            if self.process is None or self.process.poll() is not None:
                raise RasaSetupError(f"the Rasa server stopped while loading:\n{self.log_tail()}")
            if elapsed > timeout_sec:
                raise RasaSetupError(f"no model loaded after {timeout_sec:.0f} s:\n{self.log_tail()}")
            if not quiet and elapsed >= shown + 5:
                shown = int(elapsed)
                print(f"  [{elapsed:4.0f} s] loading the model …", flush=True)
            time.sleep(_POLL_SEC)
        return time.monotonic() - started

    def replace_model(self, model: Path) -> None:
        """Load another model into the running server (``PUT /model``), e.g. for a CV fold."""
        status, body = _http_json("PUT", f"{self.url}/model", {"model_file": str(model)},
                                  timeout_sec=READY_TIMEOUT_SEC)
        if status != 204:
            raise RasaSetupError(f"Rasa refused the model {model}: {status} {body}")
        self.model = model

    def rss_mb(self) -> float:
        """Resident memory of the server process (Linux /proc), 0 when it is not running."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after 15 s; idempotent."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_SEC)
        except subprocess.TimeoutExpired:
            logger.warning(f"Rasa server pid {process.pid} ignored SIGTERM; killing it")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=_STOP_SEC)

    def __enter__(self) -> RasaServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
