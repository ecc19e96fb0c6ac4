"""Data files from outside the code: Rasa NLU YAML, the knowledge base, Rasa's answers.

Seeds are cut from the real ``nlu_data`` (small pieces, so that a hundred thousand inputs
take minutes, not hours). The only acceptable refusal is the loaders' own error: a
``DataError`` listing file, line and message, or a ``RasaAnswerError``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml

from callbot.config import REPO_ROOT
from callbot.fuzz.surface import FuzzFailure, Surface
from callbot.kb.loader import load_knowledge_base
from callbot.nlu.rasa_answer import RasaAnswerError, parse_answer
from callbot.nlu.training_data import load_training_data
from callbot.problems import DataError

DATA_DIR = REPO_ROOT / "nlu_data"
_YAML_TOKENS = (b": ", b"- ", b"\n  ", b"\n    - ", b"|", b">", b"&a ", b"*a", b"!!python/object",
                b"!!binary", b"<<: ", b"? ", b"---\n", b"...", b"%YAML 1.1\n", b"'", b"#",
                b"2026-13-45", b"2026-05-15 10:00:00", b"[", b"{", b"null", b"~", b"\t")
_NLU_TOKENS = (b"intent: ", b"synonym: ", b"lookup: ", b"regex: ", b"examples: |\n", b"[",
               b"](", b"){", b'{"entity": "service", "value": "mairie"}', b"(?P<", b"\\")
_KB_TOKENS = (b"services:", b"topics:", b"town:", b"waste:", b"hours:", b"closures:",
              b"only: ", b"keywords: ", b"from: ", b"to: ", b"date: ", b"{phone:mairie}",
              b"{hours:etat_civil}", b"8h30-12h", b"ferm\xc3\xa9", b"lundi", b"dimanche")
_NLU_SEEDS = (
    b'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - bonjour\n    - allo oui\n',
    b"nlu:\n- intent: birth_declaration\n  examples: |\n"
    b"    - je dois d\xc3\xa9clarer [une naissance](document)\n"
    b'    - un [acte]{"entity": "document", "value": "acte_naissance"} svp\n',
    b"nlu:\n- synonym: mairie\n  examples: |\n    - la mairie\n    - h\xc3\xb4tel de ville\n",
    b"nlu:\n- lookup: service\n  examples: |\n    - mairie\n- regex: zip\n  examples: |\n"
    b"    - \\b\\d{5}\\b\n",
)
_RASA_SEEDS = (
    json.dumps({"text": "horaires de la mairie", "intent": {"name": "opening_hours",
                "confidence": 0.93}, "entities": [{"entity": "service", "start": 12,
                "end": 21, "value": "mairie", "confidence_entity": 0.99,
                "extractor": "DIETClassifier"}], "intent_ranking": [
                {"name": "opening_hours", "confidence": 0.93},
                {"name": "nlu_fallback", "confidence": 0.3}],
                "response_selector": {"all_retrieval_intents": []}}).encode(),
    b'{"text": "", "intent": {"name": "nlu_fallback", "confidence": 1.0}, "entities": []}',
    b'{"version": "3.6.21", "status": "failure", "message": "No model loaded", "code": 409}',
)


def _small_kb(topics: int) -> bytes:
    """The real knowledge base with fewer services and topics (valid YAML, fewer answers)."""
    document = yaml.safe_load((DATA_DIR / "kb.yml").read_text("utf-8"))
    document["services"] = dict(list(document["services"].items())[:2])
    document["topics"] = dict(list(document["topics"].items())[:topics])
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()


def _refused_clearly(error: DataError) -> str:
    if not error.problems or not all(p.message.strip() for p in error.problems):
        raise FuzzFailure("a DataError without a problem message")
    return "DataError"


class _Files:
    """One scratch folder per surface: the loaders read files."""

    def __init__(self) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="callbot-fuzz-")
        self.folder = Path(self._scratch.name)

    async def close(self) -> None:
        self._scratch.cleanup()


def nlu_surface() -> Surface:
    files = _Files()

    async def feed(data: bytes) -> str:
        (files.folder / "nlu.yml").write_bytes(data)
        try:
            training = load_training_data(files.folder)
        except DataError as exc:
            return _refused_clearly(exc)
        return "examples" if training.examples else "no examples"

    return Surface("rasa_yaml", feed, _NLU_SEEDS, (*_YAML_TOKENS, *_NLU_TOKENS), (DataError,),
                   close=files.close)


def kb_surface() -> Surface:
    path = Path("kb.yml")

    async def feed(data: bytes) -> str:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # the loader refuses these bytes before parsing: go on
            text = data.decode("utf-8", errors="replace")  # with the rest of them
        try:
            load_knowledge_base(path, text)
        except DataError as exc:
            return _refused_clearly(exc)
        return "valid"

    seeds = (_small_kb(2), _small_kb(6), b"town:\n  name: X\nservices:\n  mairie: {}\ntopics: {}\n")
    return Surface("kb_yaml", feed, seeds, (*_YAML_TOKENS, *_KB_TOKENS), (DataError,))


def rasa_answer_surface() -> Surface:
    async def feed(data: bytes) -> str:
        result = parse_answer(data)
        if not result.intent.name or not 0.0 <= result.intent.confidence <= 1.0:
            raise FuzzFailure(f"unusable parse result accepted: {result.intent}")
        return "parsed"

    tokens = (b'"intent"', b'"name"', b'"confidence"', b'"entities"', b'"intent_ranking"',
              b'"start"', b"1e308", b"-0.0", b"true", b"1.5", b"\\ud800")
    return Surface("rasa_answer", feed, _RASA_SEEDS, tokens, (RasaAnswerError,))


def data_surfaces() -> list[Surface]:
    return [nlu_surface(), kb_surface(), rasa_answer_surface()]
