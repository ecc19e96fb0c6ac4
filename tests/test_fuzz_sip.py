"""Hostile SIP over the wire against a real ``callbot serve`` (SIP on), then a real sipp call.

No mock: the datagrams go over UDP to the server process (real sippy, real models); the
server's memory is read from /proc. The inputs are made by the benchmark's mutators from a
fixed seed, one at a time, so that a missing reply can be matched to the server's log.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbot.fuzz.sip_bench import FUZZ_ENV, MAX_CALLS, barrage, good_call, wait_for_calls_to_end
from callbot.sip_bench import sip_server
from callbot.voice_server import VoiceServer

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) missing")
INPUTS = 400  # `callbot bench sip-fuzz` runs more; the suite keeps to its time budget
FLOOD = 400
#: Memory the server may gain over the barrage (models loaded before; calls come and go).
RSS_GROWTH_MB = 60


@pytest.fixture(scope="module")
def server(nlu_cache: Path) -> Iterator[tuple[VoiceServer, int]]:
    with sip_server(nlu_cache, max_calls=MAX_CALLS, **FUZZ_ENV) as (running, port, _):
        yield running, port


@pytest.fixture(scope="module")
def figures(server: tuple[VoiceServer, int]) -> dict:
    running, port = server
    return asyncio.run(barrage(running, port, INPUTS, seed=7, flood_count=FLOOD, checked=True))


def test_every_hostile_datagram_is_answered_or_logged(figures: dict) -> None:
    outcomes = figures["outcomes"]
    assert (figures["inputs"], figures["crashes"], figures["hangs"]) == (INPUTS, 0, 0), figures
    assert "silent" not in outcomes, figures["silent_inputs"]  # dropped without a log line
    assert outcomes.get("reply_400", 0) > 0 and outcomes.get("logged", 0) > 0, outcomes
    assert figures["server_errors"] == 0, "an input made the server log an error"


def test_an_invite_flood_is_bounded(figures: dict, server: tuple[VoiceServer, int]) -> None:
    """Past capacity every INVITE gets 486 ("none": lost in the kernel's socket buffer when
    the loaded machine lags); the transactions expire, so memory stays put."""
    flood = figures["flood"]
    assert sum(flood.values()) == FLOOD and set(flood) <= {"486", "200", "none"}, flood
    # a call the flood got answered ends after the 3 s RTP timeout and frees its place
    assert flood.get("200", 0) <= 2 * MAX_CALLS and flood.get("486", 0) >= FLOOD // 2, flood
    assert figures["server_rss_end_mb"] - figures["server_rss_start_mb"] < RSS_GROWTH_MB


def test_the_endpoint_still_takes_a_good_call(figures: dict, server: tuple[VoiceServer, int],
                                              tmp_path: Path) -> None:
    running, port = server
    assert asyncio.run(wait_for_calls_to_end(running)), "calls the fuzzer started did not end"
    assert good_call(port, tmp_path)
    assert running.process.poll() is None
