"""Scale-out (issue 7 part 5): two ``callbot serve`` processes behind Kamailio's dispatcher
(Debian's kamailio, ``telephony/kamailio/kamailio.cfg`` as shipped), sharing one PostgreSQL
schema; sipp calls through Kamailio; one bot is killed (SIGKILL) in the middle of its calls:
those are lost, the others complete, and the new calls all reach the other bot, which
transfers them (REFER and NOTIFY through Kamailio's record-route); the shared call log (what
the dashboard lists) holds the calls of both.

Real everything: kamailio, sipp, PostgreSQL at 127.0.0.1:5432, two bot processes with the
test models.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import pytest
from sip_support import options_status

from callbot.config import REPO_ROOT
from callbot.sip_bench import KEEP_TALKING_ENV, free_udp_ports, sip_server
from callbot.sipp import run_calls, sipp_available
from callbot.store.database import create_engine
from callbot.store.queries import CallFilter, list_calls
from callbot.voice_server import OPEN_HOURS, VoiceServer
from tests.test_store import PG_URL, _drop_schema

pytestmark = pytest.mark.skipif(not (shutil.which("kamailio") and sipp_available()),
                                reason="needs Debian's kamailio and sip-tester (scripts/test)")

KAMAILIO_CFG = REPO_ROOT / "telephony" / "kamailio" / "kamailio.cfg"
_NODE = re.compile(r"this process is (\S+)\)")
READY_TIMEOUT_SEC = 30
CALL_SEC = 6


def answers_options(port: int) -> bool:
    return options_status(port) == 200


class Kamailio:
    """kamailio in the foreground on a free port, logging to a list."""

    def __init__(self, workdir: Path, bot_ports: list[int]) -> None:
        self.port = free_udp_ports(1)
        self.dispatcher_list = workdir / "dispatcher.list"
        self.dispatcher_list.write_text("".join(
            f"1 sip:127.0.0.1:{port} 0 0 duid=bot{i}\n" for i, port in enumerate(bot_ports)))
        (workdir / "run").mkdir()
        self.command = ["kamailio", "-f", str(KAMAILIO_CFG), "-DD", "-E", "-m", "64", "-M", "8",
                        "-Y", str(workdir / "run"), "-l", f"udp:127.0.0.1:{self.port}",
                        "-A", f'DS_LIST="{self.dispatcher_list}"', "-A", "DS_PING_SEC=1"]
        self.log: list[str] = []
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Kamailio:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        threading.Thread(target=lambda: self.log.extend(self.process.stderr),  # type: ignore[union-attr]
                         daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_SEC
        while not answers_options(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("kamailio did not start:\n" + "".join(self.log)[-3000:])
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _calls_started(server: VoiceServer) -> int:
    return server.log_text().count("call started on sip")


def _node(server: VoiceServer) -> str:
    match = _NODE.search(server.log_text())
    assert match, "callbot serve did not log its node"
    return match.group(1)


async def _nodes_in_call_log(schema: str) -> dict[str, int]:
    """Calls per process, as the dashboard's call list shows them."""
    engine = create_engine(PG_URL, schema)
    day = date.fromisoformat(OPEN_HOURS[:10])
    try:
        rows = await list_calls(engine, CallFilter(day, day), limit=1000)
    finally:
        await engine.dispose()
    nodes: dict[str, int] = {}
    for row in rows:
        nodes[row["node"]] = nodes.get(row["node"], 0) + 1
    return nodes


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"cb_test_{uuid.uuid4().hex[:12]}"
    yield name
    asyncio.run(_drop_schema(name))


def _kill_when_both_talk(doomed: VoiceServer, survivor: VoiceServer) -> None:
    """SIGKILL ``doomed`` in the middle of its calls, once each bot has some."""
    deadline = time.monotonic() + 3 * CALL_SEC
    while not (_calls_started(doomed) and _calls_started(survivor)):
        assert time.monotonic() < deadline, "the calls were not spread over both bots"
        time.sleep(0.1)
    time.sleep(1)  # their call-log records are written (the writer batches every 0.5 s)
    doomed.process.kill()


def test_a_killed_bot_is_bypassed_and_both_share_the_call_log(
        nlu_cache: Path, brain: object, schema: str, tmp_path: Path) -> None:
    store = {"CALLBOT_STORE__URL": PG_URL, "CALLBOT_STORE__SCHEMA_NAME": schema,
             **KEEP_TALKING_ENV}
    with ExitStack() as stack:
        bots = [stack.enter_context(sip_server(nlu_cache, max_calls=8, **store)) for _ in range(2)]
        (doomed, _, _), (survivor, _, _) = bots
        assert all(answers_options(port) for _, port, _ in bots), "a bot does not answer OPTIONS"
        proxy = stack.enter_context(Kamailio(tmp_path, [port for _, port, _ in bots]))
        target = f"127.0.0.1:{proxy.port}"

        killer = threading.Thread(target=_kill_when_both_talk, args=(doomed, survivor))
        killer.start()
        during = run_calls(target, tmp_path / "during", calls=4, concurrent=4, call_sec=CALL_SEC,
                           sip_port=free_udp_ports(1), media_port=free_udp_ports(4))
        killer.join()
        doomed_calls = _calls_started(doomed)
        # the calls the doomed bot had are lost with it; the others completed
        assert (during.successful, during.failed) == (4 - doomed_calls, doomed_calls), during.output

        # each new caller presses 0: the bot's REFER and the caller's NOTIFYs cross Kamailio
        after = run_calls(target, tmp_path / "after", calls=4, concurrent=2, call_sec=30,
                          sip_port=free_udp_ports(1), media_port=free_udp_ports(4),
                          press=("0", 2.0))
        assert after.successful == 4, after.output + "".join(proxy.log)[-3000:]
        assert _calls_started(survivor) == 8 - doomed_calls
        assert survivor.log_text().count("transfer accepted (NOTIFY 200)") == 4
        time.sleep(2)  # the survivor's call-log writer batches every 0.5 s
        nodes = asyncio.run(_nodes_in_call_log(schema))
    assert nodes == {_node(doomed): doomed_calls, _node(survivor): 8 - doomed_calls}
