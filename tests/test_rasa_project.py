"""The Rasa project writer, the interpreter finder, and RasaHttpNLU's fallback.

The fallback tests talk to real HTTP servers on localhost (aiohttp): one that is too slow,
one that answers garbage, and a port where nothing listens. They stand in for a Rasa server
in trouble, which a real Rasa cannot be made to be on demand.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from callbot.config import Settings
from callbot.nlu.embedded import EmbeddedNLU
from callbot.nlu.rasa_http import RasaHttpNLU, RasaUnavailable
from callbot.nlu.training_data import TrainingData, load_training_data
from callbot.ports import free_port
from callbot.rasa.environment import find_python
from callbot.rasa.project import PipelineParams, write_project
from tests.conftest import DATA_DIR


def test_project_copies_nlu_files_but_not_the_knowledge_base(tmp_path: Path,
                                                              training_data: TrainingData) -> None:
    project = write_project(tmp_path / "p", training_data, PipelineParams(0.42, 77), DATA_DIR)
    copied = sorted(p.relative_to(project.path / "data").as_posix()
                    for p in (project.path / "data").rglob("*.yml"))
    assert copied == ["entities.yml", "nlu/part1.yml", "nlu/part1_more.yml", "nlu/part2.yml",
                      "nlu/part2_more.yml"]
    config = yaml.safe_load((project.path / "config.yml").read_text())
    names = [c["name"] for c in config["pipeline"]]
    assert names[:3] == ["WhitespaceTokenizer", "RegexFeaturizer", "LexicalSyntacticFeaturizer"]
    assert {"DIETClassifier", "EntitySynonymMapper", "FallbackClassifier"} <= set(names)
    assert config["language"] == "fr"
    assert config["pipeline"][names.index("FallbackClassifier")]["threshold"] == 0.42
    assert config["pipeline"][names.index("DIETClassifier")]["epochs"] == 77
    char = next(c for c in config["pipeline"] if c.get("analyzer") == "char_wb")
    assert (char["min_ngram"], char["max_ngram"]) == (1, 4)
    domain = yaml.safe_load((project.path / "domain.yml").read_text())
    assert domain["intents"] == training_data.intents
    assert {"service", "day", "phone_number"} <= set(domain["entities"])


def test_fingerprint_follows_data_and_config(tmp_path: Path, training_data: TrainingData) -> None:
    first = write_project(tmp_path / "a", training_data, PipelineParams(), DATA_DIR)
    again = write_project(tmp_path / "b", training_data, PipelineParams(), DATA_DIR)
    other = write_project(tmp_path / "c", training_data, PipelineParams(epochs=5), DATA_DIR)
    assert first.fingerprint == again.fingerprint != other.fingerprint


def test_fold_data_written_back_reads_the_same(tmp_path: Path, training_data: TrainingData) -> None:
    project = write_project(tmp_path / "p", training_data, PipelineParams())
    again = load_training_data(project.path / "data")
    assert [(e.text, e.intent, e.entities) for e in again.examples] == \
        [(e.text, e.intent, e.entities) for e in sorted(
            training_data.examples, key=lambda e: list(training_data.by_intent()).index(e.intent))]
    assert again.synonyms == training_data.synonyms
    assert again.regexes == training_data.regexes
    assert again.lookups == training_data.lookups


def test_find_python_returns_a_working_interpreter() -> None:
    python = find_python(sys.version_info.minor)
    assert python is not None
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[1])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == str(sys.version_info.minor)
    assert find_python(99) is None


@pytest.fixture(scope="module")
def embedded(settings: Settings) -> EmbeddedNLU:
    from callbot.brain import Brain

    return Brain.load_nlu(settings)


async def _troubled_rasa(request: web.Request) -> web.Response:
    if request.path == "/slow/model/parse":
        await asyncio.sleep(3)
    if request.path == "/empty/model/parse":
        return web.json_response({"text": "x", "intent": None})
    if request.path == "/html/model/parse":
        return web.Response(text="<html>proxy error</html>", content_type="text/html")
    return web.json_response({"error": "boom"}, status=500)


@pytest.fixture
async def troubled_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/{kind}/model/parse", _troubled_rasa)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("kind", ["slow", "empty", "html", "error"])
async def test_trouble_falls_back_to_embedded_and_counts(troubled_url: str, kind: str,
                                                         embedded: EmbeddedNLU) -> None:
    text = "je voudrais refaire ma carte d'identité"
    with RasaHttpNLU(f"{troubled_url}/{kind}", timeout_sec=0.5, fallback=embedded.parse) as nlu:
        result = await nlu.parse_async(text)
        assert result == embedded.parse(text)
        assert nlu.fallback_count == 1
        result = await asyncio.to_thread(nlu.parse, text)
        assert result.intent.name == "id_card_passport"
        assert nlu.fallback_count == 2


def test_nothing_listening_falls_back(embedded: EmbeddedNLU) -> None:
    with RasaHttpNLU(f"http://127.0.0.1:{free_port()}", 1.0, fallback=embedded.parse) as nlu:
        assert nlu.parse("je voudrais parler à quelqu'un").intent.name == "request_human"
        assert nlu.parse("   ").intent.name == "nlu_fallback"  # no request for silence
        assert nlu.fallback_count == 1


def test_without_fallback_the_error_says_where(embedded: EmbeddedNLU) -> None:
    port = free_port()
    nlu = RasaHttpNLU(f"http://127.0.0.1:{port}", 1.0)
    with pytest.raises(RasaUnavailable, match=f"Rasa at http://127.0.0.1:{port} failed"):
        nlu.parse("bonjour")
    nlu.close()
    nlu.close()  # idempotent
    with pytest.raises(RasaUnavailable, match="closed"):
        nlu.parse("bonjour")


def test_unknown_backend_is_a_clear_error(settings: Settings) -> None:
    from callbot.brain import Brain

    wrong = settings.model_copy(update={"nlu": settings.nlu.model_copy(update={"backend": "x"})})
    with pytest.raises(ValueError, match='nlu.backend must be "embedded" or "rasa", not \'x\''):
        Brain.load_nlu(wrong)
