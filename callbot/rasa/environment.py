"""The Rasa virtual environment: find a Python 3.10, create the venv, install ``rasa==3.6.21``.

Rasa 3.6.21 supports Python 3.8–3.10 only. Where no 3.10 exists, the pinned set in
``../shared/rasa/requirements-rasa-py311.txt`` installs the same Rasa on Python 3.11.
Everything is idempotent: an environment whose ``rasa --version`` answers is kept.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from callbot.config import REPO_ROOT
from callbot.rasa import RASA_VERSION
from callbot.rasa.progress import RasaSetupError, rasa_environ, run_with_progress

#: The pinned set that installs Rasa 3.6.21 on Python 3.11 (read with --no-deps).
PY311_REQUIREMENTS = REPO_ROOT.parent / "shared" / "rasa" / "requirements-rasa-py311.txt"
_VERSION_SEC = 60.0


@dataclass(frozen=True)
class RasaEnv:
    """Paths of one Rasa virtual environment."""

    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def rasa(self) -> Path:
        return self.venv / "bin" / "rasa"

    def installed_version(self) -> str | None:
        """The Rasa version installed in the venv, or None (``rasa --version`` is slow: ~5 s)."""
        if not self.rasa.exists():
            return None
        try:
            done = subprocess.run([str(self.rasa), "--version"], capture_output=True, text=True,
                                  timeout=_VERSION_SEC, env=rasa_environ())
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(r"Rasa Version\s*:\s*(\S+)", done.stdout)
        return match.group(1) if done.returncode == 0 and match else None


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=_VERSION_SEC)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = done.stdout.split()
    return (int(parts[0]), int(parts[1])) if done.returncode == 0 and len(parts) == 2 else None


def _pyenv_pythons(minor: int) -> list[str]:
    """Interpreters ``3.<minor>.x`` installed by pyenv, newest first."""
    if not shutil.which("pyenv"):
        return []
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              timeout=_VERSION_SEC).stdout.strip()
        names = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True,
                               timeout=_VERSION_SEC).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = [n for n in names if re.fullmatch(rf"3\.{minor}\.\d+", n)]
    found.sort(key=lambda n: int(n.rsplit(".", 1)[1]), reverse=True)
    return [str(Path(root) / "versions" / n / "bin" / f"python3.{minor}") for n in found]


def find_python(minor: int) -> str | None:
    """A working ``python3.<minor>``: pyenv first, then PATH (shims may point nowhere)."""
    candidates = [*_pyenv_pythons(minor), shutil.which(f"python3.{minor}")]
    if minor == sys.version_info.minor:
        candidates.append(sys.executable)
    return next((c for c in candidates if c and _version_of(c) == (3, minor)), None)


def _pip_progress(line: str) -> bool:
    return line.startswith(("Collecting", "Downloading", "Installing", "Successfully"))


def setup(venv: Path, python: str | None = None, quiet: bool = False) -> RasaEnv:
    """Create the venv and install Rasa unless it is already there; return the environment."""
    env = RasaEnv(venv)
    if env.installed_version() == RASA_VERSION:
        logger.info(f"Rasa {RASA_VERSION} already installed in {venv}")
        return env
    interpreter = python or find_python(10) or find_python(11)
    if not interpreter:
        raise RasaSetupError("no Python 3.10 (nor 3.11) found with pyenv or on PATH; "
                             "install one (pyenv install 3.10) or set nlu.rasa_python")
    minor = (_version_of(interpreter) or (0, 0))[1]
    if minor not in (8, 9, 10, 11):
        raise RasaSetupError(f"{interpreter} is not Python 3.8–3.11: Rasa {RASA_VERSION} cannot run")
    if venv.exists() and not env.python.exists():
        shutil.rmtree(venv)
    run_with_progress([interpreter, "-m", "venv", str(venv)], f"creating {venv} with {interpreter}",
                      quiet=quiet)
    pip = [str(env.python), "-m", "pip", "install", "--disable-pip-version-check",
           "--progress-bar", "off"]
    install = functools.partial(run_with_progress, quiet=quiet, show=_pip_progress)
    install([*pip, "--upgrade", "pip"], "upgrading pip")
    if minor <= 10:
        install([*pip, f"rasa=={RASA_VERSION}"], f"installing rasa=={RASA_VERSION} (~2 min, 2.7 GB)")
    else:
        if not PY311_REQUIREMENTS.exists():
            raise RasaSetupError(f"Python 3.11 needs the pinned set {PY311_REQUIREMENTS}: missing")
        install([*pip, "--no-deps", "--ignore-requires-python", "-r", str(PY311_REQUIREMENTS)],
             f"installing Rasa {RASA_VERSION} on Python 3.11 from {PY311_REQUIREMENTS.name}")
    version = env.installed_version()
    if version != RASA_VERSION:
        raise RasaSetupError(f"{env.rasa} --version says {version!r}, expected {RASA_VERSION}")
    return env
