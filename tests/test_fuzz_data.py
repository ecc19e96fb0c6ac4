"""Hostile data files and answers: Rasa NLU YAML, the knowledge base, Rasa's parse answers.

The loaders may refuse anything, but only with their own error listing file, line and
message (``DataError``, ``RasaAnswerError``). The bugs fuzzing found are pinned below with
the message the town now reads instead of a traceback.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from callbot.fuzz.data_surfaces import DATA_DIR, data_surfaces
from callbot.kb.loader import load_knowledge_base
from callbot.nlu.intents import NLU_FALLBACK
from callbot.nlu.rasa_answer import RasaAnswerError, parse_answer
from callbot.nlu.rasa_http import RasaHttpNLU
from callbot.nlu.result import ParseResult
from callbot.nlu.training_data import load_training_data
from callbot.problems import DataError
from tests.fuzz_support import examples, feed, mutated, quiet_refusals  # noqa: F401

NLU, KB, RASA = data_surfaces()
KB_TEXT = (DATA_DIR / "kb.yml").read_text("utf-8")
YAML_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) \
    | st.text(max_size=30) | st.dates()
YAML_VALUES = st.recursive(YAML_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8) | st.integers(), inner,
                                             max_size=3), max_leaves=10)


@examples(600)
@given(mutated(NLU))
def test_rasa_yaml_mutated(data: bytes) -> None:
    feed(NLU, data)


@examples(100)
@given(st.lists(st.dictionaries(st.sampled_from(["intent", "synonym", "lookup", "regex",
                                                 "examples"]), YAML_VALUES, max_size=3),
                max_size=3))
def test_rasa_yaml_structured(items: list) -> None:
    feed(NLU, yaml.safe_dump({"version": "3.1", "nlu": items}, allow_unicode=True).encode())


@examples(400)
@given(mutated(KB))
def test_kb_yaml_mutated(data: bytes) -> None:
    feed(KB, data)


@examples(80)
@given(st.sampled_from(["waste", "closures", "only", "keywords", "hours", "town", "topics",
                        "services", "answer", "date", "from", "to"]), YAML_VALUES)
def test_kb_yaml_any_value_anywhere(key: str, value: object) -> None:
    """Replace the first value of a key in the real file with any YAML value."""
    dumped = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True).strip()
    dumped = dumped.removesuffix("\n...").replace("\n", " ")
    text = re.sub(rf"(?m)^(\s*-?\s*{key}:).*$", lambda m: f"{m.group(1)} {dumped}", KB_TEXT,
                  count=1)
    feed(KB, text.encode())


@examples(1500)
@given(mutated(RASA))
def test_rasa_answer_mutated(data: bytes) -> None:
    feed(RASA, data)


@examples(500)
@given(st.fixed_dictionaries({}, optional={
    "text": YAML_SCALARS, "intent": st.fixed_dictionaries({}, optional={
        "name": st.text(max_size=10) | st.integers(), "confidence": st.floats() | st.text()}),
    "entities": st.lists(st.dictionaries(st.sampled_from(["entity", "start", "end", "value"]),
                                         YAML_SCALARS), max_size=2) | YAML_SCALARS,
    "intent_ranking": st.lists(st.dictionaries(st.sampled_from(["name", "confidence"]),
                                               YAML_SCALARS | st.floats()), max_size=3)}))
def test_rasa_answer_structured(body: dict) -> None:
    feed(RASA, json.dumps(body, default=str).encode())


def _kb_problem(old: str, new: str) -> str:
    assert old in KB_TEXT
    with pytest.raises(DataError) as error:
        load_knowledge_base(Path("kb.yml"), KB_TEXT.replace(old, new, 1))
    return "\n".join(p.message for p in error.value.problems)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("- date: 2026-05-15", "- from: 2026-05-15 10:00:00\n        to: 2026-05-16",
         "service 'mairie': a closure needs 'date: YYYY-MM-DD' or 'from:' and 'to:' dates"),
        ("only: [samedi]", "only: 5", "service 'mairie' closure: 'only' must be a list"),
        ("    closures:\n      - date: 2026-05-15", "    closures: 7\n    x:\n      - date: 2026-05-15",
         "service 'mairie': 'closures' must be a list"),
        ("phone: 02 40 12 34 00", "phone: 02 40 12 34 00 " + "9" * 5000,
         "a number of more than 15 digits: write it in words or split it"),
    ],
)
def test_kb_refusals_found_by_fuzzing(old: str, new: str, message: str) -> None:
    assert message in _kb_problem(old, new)


@pytest.mark.parametrize("text", ["[" * 3000, "a:\n" + "- " * 3000 + "x\n", "{a: " * 2000])
def test_yaml_nested_too_deeply_is_a_data_error(text: str, tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(text)
    for load in (lambda: load_knowledge_base(Path("kb.yml"), text),
                 lambda: load_training_data(tmp_path)):
        with pytest.raises(DataError) as error:
            load()
        assert error.value.problems[0].message == "invalid YAML: nested too deeply"


@pytest.mark.parametrize(("value", "message"), [
    ("2026-13-45", "invalid YAML value: month must be in 1..12"),
    ("2026-02-30", "invalid YAML value: day is out of range for month"),
    ("!!float x", "invalid YAML value: could not convert string to float: 'x'")])
def test_yaml_scalar_that_cannot_be_built_is_a_data_error(value: str, message: str) -> None:
    with pytest.raises(DataError) as error:
        load_knowledge_base(Path("kb.yml"), KB_TEXT.replace("date: 2026-05-15", f"date: {value}"))
    assert error.value.problems[0].message == message


@pytest.mark.parametrize(("pattern", "message"), [
    ("\\b\\d{5555555555555555}\\b", "bad regex: the repetition number is too large"),
    ("(" * 2000 + ")" * 2000, "bad regex: maximum recursion depth exceeded")])
def test_regex_that_cannot_compile_is_a_data_error(pattern: str, message: str,
                                                   tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(f"nlu:\n- regex: zip\n  examples: |\n    - {pattern}\n")
    with pytest.raises(DataError) as error:
        load_training_data(tmp_path)
    assert error.value.problems[0].message == message


def test_kb_town_of_the_wrong_shape_names_the_missing_switchboard() -> None:
    with pytest.raises(DataError) as error:
        load_knowledge_base(Path("kb.yml"), "town: [1]\nservices:\n  accueil: {}\ntopics: {}\n")
    assert "switchboard service 'mairie' is unknown" in str(error.value)


def test_kb_waste_and_keywords_of_the_wrong_shape() -> None:
    waste = re.search(r"(?m)^waste:\n(  .*\n)+", KB_TEXT)
    assert waste, "the real knowledge base has a waste block"
    assert "'waste' must map each kind to weekday names" in _kb_problem(
        waste.group(0), "waste: [verre]\n")
    keywords = re.search(r"(?m)^    keywords: .*$", KB_TEXT)
    assert keywords
    assert "'keywords' must be a list" in _kb_problem(keywords.group(0), "    keywords: 5")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"intent": "greet"}', "no intent in Rasa's answer: {'intent': 'greet'}"),
        (b'{"intent": {"name": "greet", "confidence": NaN}}',
         "intent confidence must be a number in 0\u20131, got nan"),
        (b'{"intent": {"name": "greet", "confidence": 0.9}, "intent_ranking": ["greet"]}',
         "each intent_ranking entry needs a name"),
        (b'{"intent": {"name": "greet", "confidence": 0.9}, "entities": {"a": 1}}',
         "entities must be a list"),
        (b'{"intent": {"name": "greet", "confidence": 0.9}, "entities": [{"entity": "s", '
         b'"start": "3"}]}', "entity start must be an integer"),
        (b"[" * 5000, "the answer is not JSON: nested too deeply"),
        (b"<html>502 Bad Gateway</html>", "the answer is not JSON: Expecting value"),
    ],
)
def test_rasa_answer_refusals(body: bytes, message: str) -> None:
    with pytest.raises(RasaAnswerError) as error:
        parse_answer(body)
    assert str(error.value) == message


def test_rasa_answer_drops_nlu_fallback_from_the_ranking() -> None:
    result = parse_answer(json.dumps({
        "text": "euh", "intent": {"name": "nlu_fallback", "confidence": 0.3},
        "intent_ranking": [{"name": NLU_FALLBACK, "confidence": 0.3},
                           {"name": "greet", "confidence": 0.2}]}).encode())
    assert [s.name for s in result.intent_ranking] == ["greet"]


async def test_garbage_from_a_rasa_server_falls_back_to_the_embedded_nlu(
        aiohttp_server: object) -> None:
    """A stand-in HTTP server plays the broken Rasa: a real Rasa cannot be made to answer
    garbage (a proxy's error page, a truncated body, a flood of bytes) on demand."""
    bodies = [b"<html>502</html>", b'{"intent": "x"}', b"{" * 3000, b"x" * 2_000_000,
              b'{"intent": {"name": "greet", "confidence": 1e999}}']

    async def parse(_request: web.Request) -> web.Response:
        return web.Response(body=bodies.pop(0), content_type="application/json")

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    server = await aiohttp_server(app)  # type: ignore[operator]
    fallback = ParseResult.from_dict({"text": "", "intent": {"name": "fallback_used",
                                                             "confidence": 1.0}})
    nlu = RasaHttpNLU(str(server.make_url("")), timeout_sec=5.0, fallback=lambda _t: fallback)
    try:
        for _ in range(5):
            result = await nlu.parse_async("bonjour je voudrais un acte de naissance")
            assert result.intent.name == "fallback_used"
        assert nlu.fallback_count == 5
    finally:
        await asyncio.to_thread(nlu.close)
