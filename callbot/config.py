"""One settings object: ``callbot.toml`` (or ``$CALLBOT_CONFIG``) plus ``CALLBOT_*`` variables.

Nested fields use a double underscore in the environment, e.g.
``CALLBOT_NLU__ANSWER_THRESHOLD=0.7``. The environment wins over the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    """``./nlu_data`` when run from a checkout, else the one beside the package."""
    local = Path("nlu_data")
    return local if local.is_dir() else REPO_ROOT / "nlu_data"


class NluSettings(BaseModel):
    """Thresholds of the embedded classifier (probabilities, 0–1)."""

    backend: str = "embedded"
    fallback_threshold: float = 0.3
    answer_threshold: float = 0.6
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "callbot" / "nlu")


class PolicySettings(BaseModel):
    """Limits of one call, as the conversation policy sees them."""

    call_time_limit_sec: float = 600.0
    max_misunderstandings: int = 2
    max_silences: int = 2


class Settings(BaseSettings):
    """Everything configurable, with defaults that run on a fresh machine."""

    model_config = SettingsConfigDict(
        env_prefix="CALLBOT_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    kb_path: Path | None = None
    timezone: str = "Europe/Paris"
    nlu: NluSettings = Field(default_factory=NluSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)

    @property
    def knowledge_base_path(self) -> Path:
        return self.kb_path or self.data_dir / "kb.yml"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("CALLBOT_CONFIG", "callbot.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )


def load_settings(**overrides: object) -> Settings:
    """Read the configuration; keyword arguments win over file and environment."""
    return Settings(**overrides)
