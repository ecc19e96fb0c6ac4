"""Shared fixtures: the real data, a trained embedded NLU, the real knowledge base."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from callbot.brain import Brain
from callbot.config import REPO_ROOT, Settings
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase
from callbot.nlu.embedded import EmbeddedNLU
from callbot.nlu.training_data import TrainingData, load_training_data
from callbot.ports import free_port
from callbot.voice_server import VoiceServer, voice_server

# The servers the tests start do not pre-render the knowledge base's answers in the background
# (~80 s of CPU on a first run, beside the tests on 2 cores); tests/test_answer_prerender.py
# covers it.
os.environ.setdefault("CALLBOT_VOICE__PRERENDER_ANSWERS", "false")

DATA_DIR = REPO_ROOT / "nlu_data"
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def training_data() -> TrainingData:
    return load_training_data(DATA_DIR)


@pytest.fixture(scope="session")
def nlu_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nlu-cache")


@pytest.fixture(scope="session")
def settings(nlu_cache: Path) -> Settings:
    return Settings(data_dir=DATA_DIR, nlu={"cache_dir": nlu_cache})


@pytest.fixture(scope="session")
def brain(settings: Settings) -> Brain:
    return Brain.load(settings)


@pytest.fixture(scope="session")
def nlu(brain: Brain) -> EmbeddedNLU:
    return brain.nlu


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base(DATA_DIR / "kb.yml")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="session")
def french_server(nlu_cache: Path, brain: Brain) -> Iterator[tuple[VoiceServer, str]]:
    """A ``callbot serve`` that understands French (Whisper) with its web app, and the web
    app's URL: one for the whole session, started once (Whisper's load is the slow part)."""
    port = free_port()
    with voice_server(nlu_cache, stt_engine="whisper", CALLBOT_WEB__ENABLED="true",
                      CALLBOT_WEB__PORT=str(port)) as server:
        yield server, f"http://127.0.0.1:{port}"
