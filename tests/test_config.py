"""Settings: callbot.toml, then CALLBOT_* variables on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbot.config import load_settings


def test_toml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "callbot.toml"
    toml.write_text('timezone = "Europe/Brussels"\n[nlu]\nanswer_threshold = 0.7\n'
                    "[policy]\ncall_time_limit_sec = 300\n", encoding="utf-8")
    monkeypatch.setenv("CALLBOT_CONFIG", str(toml))
    monkeypatch.setenv("CALLBOT_POLICY__CALL_TIME_LIMIT_SEC", "120")
    settings = load_settings()
    assert settings.timezone == "Europe/Brussels"
    assert settings.nlu.answer_threshold == 0.7
    assert settings.policy.call_time_limit_sec == 120


def test_unknown_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "callbot.toml"
    toml.write_text("timezon = 'x'\n", encoding="utf-8")
    monkeypatch.setenv("CALLBOT_CONFIG", str(toml))
    with pytest.raises(ValueError, match="timezon"):
        load_settings()
