"""From settings to a running Rasa: environment, trained model, server. Used by CLI and tests."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from callbot.config import Settings
from callbot.nlu.training_data import load_training_data
from callbot.rasa.environment import RasaEnv, setup
from callbot.rasa.progress import RasaSetupError
from callbot.rasa.project import PipelineParams
from callbot.rasa.server import RasaServer
from callbot.rasa.training import TrainedModel, train


def rasa_env(settings: Settings) -> RasaEnv:
    return RasaEnv(settings.nlu.rasa_home / "venv")


def pipeline_params(settings: Settings) -> PipelineParams:
    return PipelineParams(fallback_threshold=settings.nlu.fallback_threshold,
                          epochs=settings.nlu.rasa_epochs)


def ensure_env(settings: Settings, quiet: bool = False) -> RasaEnv:
    """The installed Rasa environment, installing it first if needed (idempotent)."""
    return setup(rasa_env(settings).venv, settings.nlu.rasa_python, quiet=quiet)


def train_model(settings: Settings, quiet: bool = False, force: bool = False) -> TrainedModel:
    """Train (or reuse) the model of ``settings.data_dir``; needs ``callbot rasa setup`` first."""
    env = rasa_env(settings)
    if not env.rasa.exists():
        raise RasaSetupError(f"no Rasa in {env.venv}: run `callbot rasa setup` first")
    data = load_training_data(settings.data_dir)
    return train(env, settings.nlu.rasa_home, data, pipeline_params(settings),
                 data_dir=settings.data_dir, quiet=quiet, force=force)


def configured_port(settings: Settings) -> int:
    return urlsplit(settings.nlu.rasa_url).port or 5005


def start_server(settings: Settings, model: Path, port: int | None = None,
                 quiet: bool = True) -> RasaServer:
    """Start ``rasa run`` for ``model`` and return once the model is loaded."""
    port = port or configured_port(settings)
    server = RasaServer(rasa_env(settings), model, port,
                        settings.nlu.rasa_home / "logs" / f"server-{port}.log")
    server.start()
    try:
        server.wait_ready(quiet=quiet)
    except BaseException:
        server.stop()
        raise
    return server
