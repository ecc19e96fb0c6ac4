"""Knowledge-base answers pre-rendered into the prompt cache, with the real KB and a real voice.

The voice is the English "joe" from PyPI (mechanics only); the knowledge base is
nlu_data/kb.yml. The whole KB is rendered once for the module (a few minutes of one core),
then every answer the real policy gives is looked up as the TTS service would. Stand-ins:
the NLU is replaced by a parse that names the topic (the policy, not the classifier, is
under test), and ``FailingVoice`` makes the real voice fail on one text, as a text Piper
rejects would (no real text makes Piper fail).
"""

from __future__ import annotations

import os
import shutil
import threading
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from loguru import logger
from speech_support import PHONE_RATE_HZ, PIPER_VOICE

from callbot.config import REPO_ROOT, Settings
from callbot.conversation.model import Expecting
from callbot.conversation.session import Conversation
from callbot.conversation.spoken_answers import DAYS, spoken_answers
from callbot.kb.live import LiveKnowledgeBase
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase
from callbot.nlu.intents import is_topic
from callbot.nlu.result import Entity, IntentScore, ParseResult
from callbot.pipeline.call import VoiceStack
from callbot.serve import CALL_RATES_HZ, start_answer_prerender
from callbot.speech.answer_prerender import AnswerPrerender
from callbot.speech.piper_voice import PiperVoiceModel, spoken_sentences
from callbot.speech.prompt_cache import PromptCache
from tests.test_piper_tts import CountingVoice, audio_of, speak

KB_PATH = REPO_ROOT / "nlu_data" / "kb.yml"
#: A Tuesday morning, switchboard open (as the call tests' ``callbot serve``).
NOW = datetime(2026, 12, 1, 10, 30)
WAIT_SEC = 120.0


@pytest.fixture(scope="module")
def voice() -> PiperVoiceModel:
    return PiperVoiceModel.load(PIPER_VOICE)


#: Topics that keep their entries and day-by-day hours in the cut-down copy.
KEPT_WHOLE = ("opening_hours", "birth_declaration", "id_card_passport")
#: Services kept in the copy (the others' topics move to the town hall): hours and addresses
#: are said per service and day, the bulk of the synthesis; four are every kind of it.
KEPT_SERVICES = ("mairie", "etat_civil", "cimetiere", "dechetterie")


@pytest.fixture(scope="module")
def kb_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kb.yml without the topic files beside it, and entries and day-by-day hours only on a
    few topics, four services: every kind of answer is still pre-rendered (hours per service
    and day, entries, details), at a small part of the synthesis time of the whole KB
    (minutes)."""
    text = KB_PATH.read_text("utf-8")
    for service in yaml.safe_load(text)["services"]:
        if service not in KEPT_SERVICES:  # "{phone:ccas}" in an answer: the town hall's
            text = text.replace(f":{service}}}", ":mairie}")
    data = yaml.safe_load(text)
    data["services"] = {k: v for k, v in data["services"].items() if k in KEPT_SERVICES}
    for name, topic in data["topics"].items():
        if topic.get("service") not in KEPT_SERVICES:
            topic["service"] = "mairie"
        if name not in KEPT_WHOLE:
            topic.pop("entries", None)
            topic.pop("day_hours", None)
            topic.pop("details", None)
    path = tmp_path_factory.mktemp("kb") / "kb.yml"
    _write_yaml(path, data)
    return path


def _write_yaml(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, width=10**6, sort_keys=False),
                    "utf-8")


@pytest.fixture(scope="module")
def kb(kb_copy: Path) -> KnowledgeBase:
    return load_knowledge_base(kb_copy)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


@pytest.fixture(scope="module")
def rendered(voice, kb, cache_dir) -> tuple[PromptCache, AnswerPrerender]:
    """The whole knowledge base pre-rendered at the phone rate, on disk in ``cache_dir``."""
    cache = PromptCache(voice, cache_dir)
    prerender = AnswerPrerender(cache, lambda: spoken_answers(kb, NOW), CALL_RATES_HZ)
    reports = prerender.run_pass()
    assert reports is not None and reports[0].failed == 0
    assert reports[0].rendered == reports[0].sentences > 150
    return cache, prerender


def _parse(intent: str, **entities: str | None) -> ParseResult:
    found = tuple(Entity(name, value, 0, 0, value) for name, value in entities.items() if value)
    return ParseResult(intent, IntentScore(intent, 1.0), found)


def _policy_says(kb: KnowledgeBase, topic: str, service: str | None, day: str | None) -> list[str]:
    """The texts the real policy hands the TTS for a question on ``topic``, then "yes" to the
    details it offers."""
    conversation = Conversation(lambda text: _parse(text) if text == "affirm" else
                                _parse(topic, service=service, day=day), lambda: kb, lambda: NOW)
    conversation.start()
    answer = conversation.hear(topic)
    offered = conversation.state.expecting is Expecting.DETAILS
    details = conversation.hear("affirm") if offered else None
    return [say.text for turn in (answer, details) if turn for say in turn.says]


def test_every_answer_the_policy_says_is_served_from_the_cache(rendered, kb):
    cache, _ = rendered
    missing = {text for topic in kb.topics if is_topic(topic)
               for service in (None, *kb.services) for day in DAYS
               for text in _policy_says(kb, topic, service, day)
               if not cache.covers(text, PHONE_RATE_HZ)}
    assert not missing
    assert not cache.covers(next(iter(kb.topics.values())).answer, 16000)  # phone rate only
    assert cache.answer_bytes > 1_000_000


async def test_the_tts_service_speaks_a_prerendered_answer_without_synthesis(rendered, kb):
    cache, _ = rendered
    counting = CountingVoice(cache._voice)
    texts = _policy_says(kb, "id_card_passport", None, None)
    from callbot.speech.piper_tts import PiperTTSService

    down = await speak(PiperTTSService(voice=counting, cache=cache), *texts)
    assert counting.finished == []
    assert len(audio_of(down)) > PHONE_RATE_HZ * 2  # seconds of speech


def test_a_restart_reads_the_answers_back_from_disk(rendered, voice, kb, cache_dir):
    counting = CountingVoice(voice)
    restarted = PromptCache(counting, cache_dir)  # type: ignore[arg-type]
    texts = [t for topic_texts in spoken_answers(kb, NOW).values() for t in topic_texts]
    report = restarted.render_answers(texts, PHONE_RATE_HZ)
    assert report.rendered == 0 and counting.finished == []
    assert all(restarted.covers(t, PHONE_RATE_HZ) for t in texts)


def test_a_reload_renders_only_the_changed_answers(rendered, voice, cache_dir, tmp_path,
                                                  kb_copy):
    source = tmp_path / "kb.yml"
    shutil.copy(kb_copy, source)
    live = LiveKnowledgeBase(source)
    counting = CountingVoice(voice)
    cache = PromptCache(counting, cache_dir)  # type: ignore[arg-type]
    prerender = AnswerPrerender(cache, lambda: spoken_answers(live.refresh(), NOW),
                                CALL_RATES_HZ)
    assert prerender.run_pass() is not None and counting.finished == []  # all from disk
    before = _sentences(spoken_answers(live.current, NOW))
    assert prerender.run_pass() is None  # nothing changed, nothing done

    old = live.current.topics["birth_declaration"].answer
    new = "Une naissance se déclare dans les cinq jours, à la mairie du lieu de naissance."
    data = yaml.safe_load(source.read_text("utf-8"))
    data["topics"]["birth_declaration"]["answer"] = new
    _write_yaml(source, data)
    os.utime(source, ns=(live.path.stat().st_atime_ns, live.path.stat().st_mtime_ns + 10**9))
    reports = prerender.run_pass()

    assert reports is not None and live.current.topics["birth_declaration"].answer == new
    said = spoken_answers(live.current, NOW)
    new_sentences = _sentences(said) - before
    assert reports[0].rendered == len(counting.finished) == len(new_sentences) > 0
    assert all(cache.covers(text, PHONE_RATE_HZ) for text in said["birth_declaration"])
    assert cache.get(spoken_sentences(old)[0], PHONE_RATE_HZ) is None  # no longer said: dropped


def _sentences(answers: dict[str, list[str]]) -> set[str]:
    return {s for texts in answers.values() for text in texts for s in spoken_sentences(text)}


class FailingVoice:
    """The real voice, failing on one text as a text Piper rejects would."""

    def __init__(self, voice: PiperVoiceModel, rejected: str) -> None:
        self.voice, self.path, self.rejected = voice, voice.path, rejected

    def render(self, text: str, rate_hz: int) -> bytes:
        if text == self.rejected:
            raise ValueError("Piper rejects this text")
        return self.voice.render(text, rate_hz)


def test_a_text_piper_fails_on_is_logged_and_skipped(voice, tmp_path):
    texts = ["Bonjour.", "Texte refusé.", "Au revoir."]
    answers = {"one": texts[:2], "two": texts[2:]}
    failed_log, done = [], threading.Event()

    def sink(message) -> None:
        if "cannot render [Texte refusé.]" in message:
            failed_log.append(message)
        if "answer pre-render:" in message:
            done.set()

    sink_id = logger.add(sink, level="INFO")
    cache = PromptCache(FailingVoice(voice, "Texte refusé."), tmp_path)  # type: ignore[arg-type]
    prerender = AnswerPrerender(cache, lambda: answers, CALL_RATES_HZ).start()
    try:
        assert done.wait(WAIT_SEC), "the pre-render never finished"
    finally:
        prerender.stop(WAIT_SEC)
        logger.remove(sink_id)
    assert failed_log
    assert cache.covers("Bonjour. Au revoir.", PHONE_RATE_HZ)
    assert not cache.covers("Texte refusé.", PHONE_RATE_HZ)


def test_a_failing_answer_composition_never_stops_the_thread(voice, tmp_path):
    calls, retried = [], threading.Event()

    def answers() -> dict[str, list[str]]:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a topic names an unknown service")
        retried.set()
        return {"one": ["Bonjour."]}

    prerender = AnswerPrerender(PromptCache(voice, tmp_path), answers, CALL_RATES_HZ,
                                check_sec=0.01).start()
    try:
        assert retried.wait(WAIT_SEC)
    finally:
        prerender.stop(WAIT_SEC)


def test_a_stop_ends_the_thread_between_two_sentences(voice, kb, tmp_path):
    cache = PromptCache(voice, tmp_path)
    prerender = AnswerPrerender(cache, lambda: spoken_answers(kb, NOW), CALL_RATES_HZ).start()
    assert prerender.running
    prerender.stop(WAIT_SEC)  # the whole KB would take minutes
    assert not prerender.running
    assert not cache.covers(spoken_answers(kb, NOW)["opening_hours"][0], PHONE_RATE_HZ)


def test_serve_leaves_the_answers_alone_when_told(voice):
    settings = Settings(voice={"prerender_answers": False})
    stack = VoiceStack(brain=None, make_stt=None, make_tts=None,  # type: ignore[arg-type]
                       prompt_cache=PromptCache(voice))
    assert start_answer_prerender(settings, None, stack) is None  # type: ignore[arg-type]


def test_synthesis_waits_while_calls_are_on(voice, tmp_path):
    """The pre-render gives way to calls: nothing is synthesised while one is on (its GIL
    and CPU are the call's), the sentence comes once the line is free."""
    calls_on = threading.Event()
    calls_on.set()
    counting = CountingVoice(voice)
    cache = PromptCache(counting, tmp_path)  # type: ignore[arg-type]
    prerender = AnswerPrerender(cache, lambda: {"one": ["Bonjour et bienvenue."]}, (8000,),
                                busy=calls_on.is_set)
    rendering = threading.Thread(target=prerender.run_pass)
    rendering.start()
    rendering.join(1.5)
    assert rendering.is_alive() and counting.finished == [] and prerender.pauses == 1
    calls_on.clear()
    rendering.join(30)
    assert not rendering.is_alive() and len(counting.finished) == 1
    assert cache.covers("Bonjour et bienvenue.", 8000)
