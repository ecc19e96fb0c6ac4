"""``callbot doctor``: the whole command on a fresh machine's defaults, then each check alone
(ports, database on SQLite and the real PostgreSQL, Rasa, SIP names, clock, data)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from callbot.config import Settings, SipSettings, StoreSettings
from callbot.doctor import (
    check_clock,
    check_database,
    check_knowledge_base,
    check_model,
    check_nlu,
    check_ntp,
)
from callbot.doctor_check import Check, Status
from callbot.doctor_net import check_listeners, check_rasa, check_sip, sip_uri_host
from callbot.nlu.backend import load_embedded_nlu
from callbot.speech.registry import load_registry
from callbot.store.database import create_engine, migrate
from tests.conftest import DATA_DIR
from tests.test_cli import in_process
from tests.test_store import PG_URL

LINE = re.compile(r"^(OK|WARN|FAIL) {1,3} \S")


def _free_ports(count: int) -> list[int]:
    """Ports free now, all different (held together while picked)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@pytest.fixture
def fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's defaults, with empty state, model and cache folders and free ports."""
    for name in list(os.environ):
        if name.startswith("CALLBOT_") and name != "CALLBOT_VOICE__PRERENDER_ANSWERS":
            monkeypatch.delenv(name)
    websocket, audiosocket, web = _free_ports(3)
    for name, value in {"CONFIG": tmp_path / "none.toml", "DATA_DIR": DATA_DIR,
                        "STORE__STATE_DIR": tmp_path / "state",
                        "MODELS__MODELS_DIR": tmp_path / "models",
                        "NLU__CACHE_DIR": tmp_path / "nlu", "VOICE__WEBSOCKET_PORT": websocket,
                        "VOICE__AUDIOSOCKET_PORT": audiosocket, "WEB__PORT": web}.items():
        monkeypatch.setenv(f"CALLBOT_{name}", str(value))
    return tmp_path


def doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = in_process(["doctor"])
    out, err = capsys.readouterr()
    *lines, summary = out.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert re.fullmatch(r"\d+ OK, \d+ WARN, \d+ FAIL", summary)
    return code, lines, err


def test_fresh_machine_only_warns_about_what_to_fetch(fresh_machine: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = doctor(capsys)
    assert code == 0 and not [line for line in lines if line.startswith("FAIL")], lines
    for setting, model in (("stt_model", "vosk-model-small-fr-0.22"),
                           ("tts_voice", "fr_FR-siwis-medium")):
        line = next(line for line in lines if f"models.{setting} = {model}" in line)
        assert line.startswith("WARN") and "not installed  — " in line
        assert f"callbot models fetch {model}" in line and str(fresh_machine / "models") in line
    assert any(line.startswith("WARN  NLU model not trained") for line in lines)
    assert any(line.startswith("OK    voice.websocket_port") for line in lines)
    assert any("not created yet" in line for line in lines if line.startswith("OK    database"))
    assert not (fresh_machine / "state" / "callbot.db").exists()  # the doctor looks, no more


def test_a_port_taken_fails_and_names_the_process(fresh_machine: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("CALLBOT_VOICE__WEBSOCKET_PORT", str(port))
        code, lines, _ = doctor(capsys)
    assert code == 1
    [line] = [line for line in lines if line.startswith("FAIL")]
    assert line.startswith(f"FAIL  voice.websocket_port: 127.0.0.1:{port}/tcp already taken by "
                           f"pid {os.getpid()} ")
    assert "CALLBOT_VOICE__WEBSOCKET_PORT" in line


def test_an_unreachable_database_fails_in_one_readable_line(
        fresh_machine: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CALLBOT_STORE__URL", "postgresql+asyncpg://callbot:s3cret@127.0.0.1:1/x")
    code, lines, err = doctor(capsys)
    assert code == 1
    [line] = [line for line in lines if line.startswith("FAIL")]
    assert line.startswith("FAIL  database postgresql+asyncpg://callbot:***@127.0.0.1:1/x: "
                           "cannot connect (ConnectionRefusedError: ")
    assert "s3cret" not in line + err and "Traceback" not in err


# --- each check alone ---------------------------------------------------------------------

def test_check_line_format() -> None:
    assert Check(Status.OK, "web.port free").line() == "OK    web.port free"
    assert Check(Status.FAIL, "x", "do y").line() == "FAIL  x  — do y"


def test_two_settings_on_one_port_fail() -> None:
    [port] = _free_ports(1)
    settings = Settings(voice={"websocket_port": port, "audiosocket_port": 0},
                        web={"port": port})
    checks = check_listeners(settings)
    assert [c.status for c in checks] == [Status.OK, Status.FAIL]
    assert checks[1].what == f"voice.websocket_port and web.port are both {port}/tcp"


def test_database_reachable_and_up_to_date(tmp_path: Path) -> None:
    store = StoreSettings(state_dir=tmp_path)

    async def migrated() -> Check:
        engine = create_engine(store.database_url)
        await migrate(engine)
        await engine.dispose()
        return await check_database(store)

    check = asyncio.run(migrated())
    assert check.status is Status.OK and check.what.endswith("reachable, schema up to date")


def test_database_on_postgresql() -> None:
    store = StoreSettings(url=PG_URL, schema_name=f"doctor_{uuid.uuid4().hex[:8]}")
    check = asyncio.run(check_database(store))
    assert check.status is Status.OK and "reachable" in check.what, check.line()


def test_database_url_that_is_not_one() -> None:
    check = asyncio.run(check_database(StoreSettings(url="postgres//oops")))
    assert check.status is Status.FAIL and "not a database URL" in check.what


def test_models_configured_by_path_or_unknown(tmp_path: Path) -> None:
    settings = Settings(models={"models_dir": tmp_path})
    registry = load_registry(settings)
    missing = check_model("stt_model", str(tmp_path / "vosk-fr"), registry, settings)
    assert missing.status is Status.WARN and str(tmp_path / "vosk-fr") in missing.fix
    unknown = check_model("tts_voice", "fr_FR-nobody", registry, settings)
    assert unknown.status is Status.FAIL and "callbot models list" in unknown.fix


@pytest.fixture
def rasa_status() -> Iterator[str]:
    """A stand-in Rasa answering ``GET /status`` as Rasa 3.6 does."""

    class Status200(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = json.dumps({"model_file": "models/nlu-20261201.tar.gz"}).encode()
            self.send_response(200 if self.path == "/status" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Status200)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-rasa",
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_rasa_up_with_its_model(rasa_status: str) -> None:
    check = check_rasa(rasa_status)
    assert check.status is Status.OK and check.what.endswith("model nlu-20261201.tar.gz")


def test_rasa_down_fails_with_the_fix() -> None:
    [port] = _free_ports(1)
    check = check_rasa(f"http://127.0.0.1:{port}")
    assert check.status is Status.FAIL and "callbot rasa serve" in check.fix


@pytest.mark.parametrize(("uri", "host"), [
    ("sip:pbx.mairie.local", "pbx.mairie.local"), ("sip:standard@127.0.0.1:5080", "127.0.0.1"),
    ("sips:trunk@sbc.example.fr;transport=tls", "sbc.example.fr"), ("sip:[::1]:5060", "::1"),
    ("pbx.mairie.local", None)])
def test_sip_uri_host(uri: str, host: str | None) -> None:
    assert sip_uri_host(uri) == host


def test_sip_registrar_that_does_not_resolve_fails() -> None:
    checks = check_sip(SipSettings(enabled=True, register_uri="sip:pbx.invalid",
                                   transfer_uri="sip:standard@localhost"))
    assert [c.status for c in checks] == [Status.OK, Status.FAIL, Status.OK]
    assert checks[1].what.startswith("sip.register_uri: pbx.invalid does not resolve")


def test_clock_warns_when_frozen_or_when_the_system_zone_differs() -> None:
    winter = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
    [same] = check_clock("Europe/Paris", None, winter, timedelta(hours=1))
    assert same.status is Status.OK and "2026-12-05 10:30 Europe/Paris (UTC+01:00" in same.what
    _, frozen, zone = check_clock("Europe/Paris", "2026-12-01T10:30", winter, timedelta(0))
    assert frozen.status is zone.status is Status.WARN and "fixed_now" in frozen.what
    assert "system time zone is UTC+00:00, the town's UTC+01:00" in zone.what
    assert "Europe/Paris" in zone.fix
    [bad] = check_clock("Europe/Villebrune", None, winter, None)
    assert bad.status is Status.FAIL


def test_ntp_states() -> None:
    assert check_ntp(None) is None
    assert check_ntp("yes").status is Status.OK  # type: ignore[union-attr]
    assert check_ntp("no").status is Status.WARN  # type: ignore[union-attr]
    assert check_ntp("timedatectl: no systemd").status is Status.WARN  # type: ignore[union-attr]


def test_knowledge_base_broken_fails(tmp_path: Path) -> None:
    broken = tmp_path / "kb.yml"
    broken.write_text("services: {}\n", encoding="utf-8")
    check = check_knowledge_base(broken)
    assert check.status is Status.FAIL and "callbot kb validate" in check.fix


def test_nlu_trained_is_ok(tmp_path: Path) -> None:
    settings = Settings(data_dir=DATA_DIR, nlu={"cache_dir": tmp_path})
    assert check_nlu(settings).status is Status.WARN
    load_embedded_nlu(DATA_DIR, tmp_path, settings.nlu.fallback_threshold)  # writes the cache
    assert check_nlu(settings).status is Status.OK
