"""Shared fixtures: the real data, a trained embedded NLU, the real knowledge base."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from errand_servers import Radicale, calendar_env

from callbot.brain import Brain
from callbot.config import REPO_ROOT, Settings
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase
from callbot.nlu.embedded import EmbeddedNLU
from callbot.nlu.training_data import TrainingData, load_training_data
from callbot.ports import free_port
from callbot.sip_bench import free_udp_ports, sip_env
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
def town_calendar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """The town's CalDAV calendar (Radicale) that ``french_server`` books in; under a second
    to start."""
    server = Radicale(tmp_path_factory.mktemp("town-calendar")).start()
    yield server
    server.stop()


FRENCH_SERVER_CALLS = 10


@pytest.fixture(scope="session")
def french_server(nlu_cache: Path, brain: Brain,
                  town_calendar: Radicale) -> Iterator[tuple[VoiceServer, str]]:
    """A ``callbot serve`` that understands French (Whisper) with its web app, and the web
    app's URL: one for the whole session, started once (Whisper's load is the slow part).
    Appointments are booked in ``town_calendar`` (nothing changes unless a caller asks for a
    rendez-vous)."""
    port, rtp_min = free_port(), free_udp_ports(4, step=8)
    with voice_server(nlu_cache, stt_engine="whisper", CALLBOT_WEB__ENABLED="true",
                      CALLBOT_WEB__PORT=str(port), **calendar_env(town_calendar),
                      # SIP too, for tests/test_errand_voice.py's booking by phone
                      **sip_env(rtp_min, rtp_min + 32, FRENCH_SERVER_CALLS),
                      # a Whisper decode (~1 s) or a Piper sentence starved by other processes
                      # on 2 cores (load 6-9) was seen past the production deadlines (5 s and
                      # 1.8 s): hangs are tests/test_hangs.py's subject, not these tests'
                      CALLBOT_DEADLINES__STT_FINAL_SEC="15",
                      CALLBOT_DEADLINES__TTS_FIRST_AUDIO_SEC="6") as server:
        yield server, f"http://127.0.0.1:{port}"
