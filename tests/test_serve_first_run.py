"""``callbot serve`` on a first run fetches missing models; unreachable, it says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from callbot.ports import free_port

MANIFEST = """
[[model]]
name = "fr_FR-test-voice"
kind = "tts"
engine = "piper"
language = "fr_FR"
sample_rate = 22050
source = "download"
files = [
    {{ url = "http://127.0.0.1:{port}/fr_FR-test-voice.onnx", size = 10, md5 = "0" }},
    {{ url = "http://127.0.0.1:{port}/fr_FR-test-voice.onnx.json", size = 10, md5 = "0" }},
]
"""


def test_unreachable_model_stops_serve_with_where_to_put_it(tmp_path: Path, nlu_cache: Path,
                                                            brain: object) -> None:
    """Nothing listens on the manifest's port: the download fails like it does offline."""
    manifest = tmp_path / "voices.toml"
    manifest.write_text(MANIFEST.format(port=free_port()), encoding="utf-8")
    env = {**os.environ, "CALLBOT_NLU__CACHE_DIR": str(nlu_cache),
           "CALLBOT_MODELS__MODELS_DIR": str(tmp_path / "models"),
           "CALLBOT_MODELS__MANIFESTS": f'["{manifest}"]',
           "CALLBOT_MODELS__TTS_VOICE": "fr_FR-test-voice"}
    done = subprocess.run([sys.executable, "-m", "callbot.cli", "serve"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2
    assert "fr_FR-test-voice.onnx" in done.stderr
    assert f"put them in {tmp_path / 'models' / 'fr_FR-test-voice'}" in done.stderr
    assert "Traceback" not in done.stderr
