"""Train a Rasa NLU model from a written project, cached by the project's fingerprint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from callbot.nlu.training_data import TrainingData
from callbot.rasa.environment import RasaEnv
from callbot.rasa.progress import run_with_progress
from callbot.rasa.project import PipelineParams, RasaProject, write_project


@dataclass(frozen=True)
class TrainedModel:
    path: Path
    train_seconds: float  # of the run that made it (read back from the cache)
    cached: bool


def _epoch_line(line: str) -> bool:
    return "Epochs:" in line or "Training" in line


def train_project(env: RasaEnv, project: RasaProject, models_dir: Path,
                  quiet: bool = False, force: bool = False) -> TrainedModel:
    """``rasa train nlu`` unless a model for this fingerprint exists; return its path."""
    model = models_dir / f"{project.model_name}.tar.gz"
    meta = models_dir / f"{project.model_name}.json"
    if model.exists() and not force:
        seconds = json.loads(meta.read_text())["train_seconds"] if meta.exists() else 0.0
        logger.info(f"Rasa model {model} already trained for this data and config")
        return TrainedModel(model, seconds, cached=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    command = [str(env.rasa), "train", "nlu", "--config", "config.yml", "--nlu", "data",
               "--out", str(models_dir), "--fixed-model-name", project.model_name]
    seconds = run_with_progress(command, f"training the Rasa model {project.model_name}",
                                quiet=quiet, show=_epoch_line, cwd=project.path)
    if not model.exists():
        raise FileNotFoundError(f"rasa train finished but {model} is missing")
    meta.write_text(json.dumps({"train_seconds": round(seconds, 2)}))
    return TrainedModel(model, seconds, cached=False)


def train(env: RasaEnv, home: Path, data: TrainingData, params: PipelineParams,
          data_dir: Path | None = None, quiet: bool = False, force: bool = False,
          name: str = "project") -> TrainedModel:
    """Write the project under ``home/name`` and train it into ``home/models``."""
    project = write_project(home / name, data, params, data_dir)
    return train_project(env, project, home / "models", quiet=quiet, force=force)
