"""Against a real Rasa 3.6.21 server: setup, train, serve, parse, scenarios, fallback when it dies.

The Rasa venv and the trained model live in ``nlu.rasa_home`` (~/.cache/callbot/rasa), so CI
runs on this machine reuse them; from nothing, setup (~2 min) and training run here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbot.brain import Brain
from callbot.config import REPO_ROOT, Settings
from callbot.nlu.rasa_http import RasaHttpNLU
from callbot.nlu.result import ParseResult
from callbot.ports import free_port
from callbot.rasa import RASA_VERSION
from callbot.rasa.server import RasaServer
from callbot.rasa.stack import ensure_env, rasa_env, start_server, train_model
from callbot.rasa.training import TrainedModel
from callbot.scenarios import load_scenarios, run_scenario

SCENARIOS = load_scenarios(REPO_ROOT / "scenarios")

_CALIBRATION = "DIET's softmax is more (or less) sure than the embedded NLU on this phrasing"
#: Scenarios the Rasa model (50 epochs, seed 7) gets wrong today, and why. Not strict: a
#: retrained model (new nlu_data) may pass some of them.
RASA_KNOWN_FAILURES: dict[str, str] = {
    "clarification voiture sur le trottoir puis police municipale":
        f"municipal_police at 0.96 where a clarification is expected: {_CALIBRATION}",
    "clarification sur un seul sujet confirmée par oui":
        f"associations at 0.86 where a clarification is expected: {_CALIBRATION}",
    "incompris deux fois puis une personne":
        "'le truc là pour le machin…' is citizen_census at 0.63, not nlu_fallback",
    "incompris deux fois le soir, rappel des horaires et fin d'appel":
        "'le truc là pour le machin…' is citizen_census at 0.63, not nlu_fallback",
    "trois questions, détails oui puis non, au revoir":
        "'oui s'il vous plaît dites-moi tout' is repeat at 0.97, not affirm",
    "déclaration de décès": "'oui s'il vous plaît dites-moi tout' is repeat at 0.97, not affirm",
    "merci puis nouvelle question après oui":
        f"'réserver une salle pour un mariage': room_rental at 0.44 only: {_CALIBRATION}",
    "fermé la nuit puis demande une personne":
        "'bonsoir excusez-moi je voudrais parler à quelqu'un' is greet at 0.61, not request_human",
    "date précise ignorée, la fermeture du 24 décembre n'est pas annoncée":
        f"'la mairie sera ouverte le 24 décembre': opening_hours at 0.42 only: {_CALIBRATION}",
    "oui je veux bien merci aux détails pris pour un remerciement":
        "'oui je veux bien merci' is thanks at 0.89, not affirm",
    "hésitation prise pour un au revoir, le bot raccroche":
        "'laissez-moi réfléchir deux secondes' is request_human at 0.49: the bot transfers",
    "détresse alimentaire non comprise":
        "'je suis au chômage et j'ai plus de quoi manger' is jobs at 0.53, not social_assistance",
    "payer une facture de crèche":
        f"invoice_payment at 0.76 where a clarification is expected: {_CALIBRATION}",
}


def _with_nlu(settings: Settings, **updates: object) -> Settings:
    return settings.model_copy(update={"nlu": settings.nlu.model_copy(update=updates)})


@pytest.fixture(scope="session")
def rasa_model(settings: Settings) -> TrainedModel:
    ensure_env(settings, quiet=True)
    return train_model(settings, quiet=True)


@pytest.fixture(scope="session")
def rasa_server(settings: Settings, rasa_model: TrainedModel) -> Iterator[RasaServer]:
    server = start_server(settings, rasa_model.path, port=free_port())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rasa_brain(settings: Settings, rasa_server: RasaServer) -> Iterator[Brain]:
    brain = Brain.load(_with_nlu(settings, backend="rasa", rasa_url=rasa_server.url,
                                 rasa_timeout_sec=10.0))
    yield brain
    brain.nlu.close()  # type: ignore[attr-defined]


def test_setup_is_idempotent_and_installs_the_pinned_rasa(settings: Settings,
                                                          rasa_model: TrainedModel) -> None:
    started = time.monotonic()
    env = ensure_env(settings, quiet=True)
    assert env == rasa_env(settings)
    assert env.installed_version() == RASA_VERSION
    assert time.monotonic() - started < 60  # nothing reinstalled
    assert not list(env.venv.glob("lib/python*/site-packages/rasa_pro*"))


def test_training_is_cached_by_data_and_config(settings: Settings, rasa_model: TrainedModel) -> None:
    again = train_model(settings, quiet=True)
    assert again.cached and again.path == rasa_model.path
    assert rasa_model.path.stat().st_size > 100_000


def test_parse_has_the_embedded_shape(rasa_brain: Brain) -> None:
    nlu = rasa_brain.nlu
    result = nlu.parse("bonjour je voudrais refaire ma carte d'identité")
    assert isinstance(result, ParseResult)
    assert result.intent.name == "id_card_passport"
    assert result.intent.confidence > 0.6
    assert result.intent_ranking[0].name == "id_card_passport"
    assert "nlu_fallback" not in {s.name for s in result.intent_ranking}
    shape = result.to_dict()
    assert {"text", "intent", "entities", "intent_ranking"} <= set(shape)
    # the knowledge retriever's choice rides along as Rasa's response selector
    assert set(shape) - {"text", "intent", "entities", "intent_ranking"} <= {"response_selector"}
    selector = shape["response_selector"]["knowledge"]
    assert selector["response"] == selector["ranking"][0]
    assert nlu.fallback_count == 0  # type: ignore[attr-defined]


def test_entities_and_synonyms(rasa_brain: Brain) -> None:
    result = rasa_brain.nlu.parse("quels sont les horaires de l'hôtel de ville samedi")
    assert result.intent.name == "opening_hours"
    assert result.entity_value("service") == "mairie"
    assert result.entity_value("day") == "samedi"


async def test_parse_async(rasa_brain: Brain) -> None:
    result = await rasa_brain.nlu.parse_async("je voudrais parler à quelqu'un")  # type: ignore[attr-defined]
    assert result.intent.name == "request_human"


def test_nonsense_is_not_a_confident_topic(rasa_brain: Brain) -> None:
    result = rasa_brain.nlu.parse("zblorg kwix fnapp")
    assert result.intent.name in {"nlu_fallback", "out_of_scope"} or result.intent.confidence < 0.6


#: Scenarios are written against the embedded NLU; DIET disagrees on a few borderline
#: sentences (confidence just over or under a threshold). RASA_KNOWN_FAILURES lists the ones
#: seen and why; the run must stay at this pass rate or better, with no fallback used.
MIN_SCENARIO_PASS_RATE = 0.8


def test_scenarios_with_rasa(rasa_brain: Brain) -> None:
    failures = {s.name: run_scenario(rasa_brain, s).failures for s in SCENARIOS}
    failed = {name: f for name, f in failures.items() if f}
    report = "\n".join(f"{name}: {f[0]}" + (" (known)" if name in RASA_KNOWN_FAILURES else "")
                       for name, f in failed.items())
    assert 1 - len(failed) / len(SCENARIOS) >= MIN_SCENARIO_PASS_RATE, report
    assert rasa_brain.nlu.fallback_count == 0  # type: ignore[attr-defined]


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout_sec: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout_sec
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} from callbot rasa serve:\n{''.join(lines)}")


def test_serve_then_stop_mid_call_falls_back_to_embedded(settings: Settings,
                                                         rasa_model: TrainedModel) -> None:
    """`callbot rasa serve` runs the server; it stops between two turns of a call."""
    port = free_port()
    env = {**os.environ, "CALLBOT_DATA_DIR": str(settings.data_dir),
           "CALLBOT_NLU__RASA_HOME": str(settings.nlu.rasa_home)}
    serve = subprocess.Popen([sys.executable, "-m", "callbot.cli", "rasa", "serve", "--port",
                              str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env)
    brain = Brain.load(_with_nlu(settings, backend="rasa", rasa_url=f"http://127.0.0.1:{port}",
                                 rasa_timeout_sec=10.0))
    nlu: RasaHttpNLU = brain.nlu  # type: ignore[assignment]
    try:
        _wait_for_line(serve, f"ready at http://127.0.0.1:{port}", 300)
        conversation = brain.conversation()
        conversation.start()
        first = conversation.hear("bonjour je voudrais refaire ma carte d'identité")
        assert (first.parse.intent.name, nlu.fallback_count) == ("id_card_passport", 0)
        serve.send_signal(signal.SIGINT)
        output = serve.communicate(timeout=60)[0]
        assert serve.returncode == 0 and "server stopped" in output, output
        second = conversation.hear("et pour les poubelles c'est quel jour")
        assert nlu.fallback_count == 1
        assert second.parse.intent.name == "waste_collection"
        assert str(second.action) == "answer"
    finally:
        nlu.close()
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def test_serve_reports_a_missing_setup(tmp_path: Path) -> None:
    env = {**os.environ, "CALLBOT_NLU__RASA_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "callbot.cli", "rasa", "serve"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"no Rasa in {tmp_path}/venv: run `callbot rasa setup` first" in done.stderr


def test_compare_reports_a_missing_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "callbot.cli", "nlu", "compare",
                           str(tmp_path / "nope.tsv")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"no such question file: {tmp_path}/nope.tsv" in done.stderr
