"""A Rasa project written from ``nlu_data/``: config.yml (a French pipeline), domain.yml, data/.

The data files are copied as they are (they already are Rasa 3.x YAML); the knowledge base
(``kb.yml``) is not NLU data and stays out. For cross-validation folds the training data is
written back from a ``TrainingData`` instead. The fingerprint names the trained model, so the
same data and config never train twice.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from callbot.nlu.training_data import TrainingData, nlu_files
from callbot.rasa import RASA_VERSION

#: Bump when the way the project is written changes, so cached models are not reused.
PROJECT_VERSION = "1"


@dataclass(frozen=True)
class PipelineParams:
    """What the settings change in config.yml."""

    fallback_threshold: float = 0.3
    epochs: int = 50
    random_seed: int = 7


def pipeline_config(params: PipelineParams) -> dict:
    """Whitespace tokens, regex + lexical features, word and char_wb 1–4 counts, DIET.

    No language model: Rasa's open-source French options (spaCy, BERT) are large and our
    examples are caller phrasings with ASR spellings, where character n-grams do well.
    DIET classifies intents only, without transformer layers: with its CRF entity tagger an
    epoch took 15–35 s here against 4.7 s without (2 CPUs), and entities come, as in the
    embedded NLU, from the lookup tables and regexes (RegexEntityExtractor) and synonyms.
    ``ambiguity_threshold`` is 0 so that, as with the embedded NLU, only low confidence
    makes ``nlu_fallback`` and the policy keeps deciding when to ask for clarification.
    """
    return {
        "recipe": "default.v1",
        "language": "fr",
        "assistant_id": "callbot",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "RegexFeaturizer", "case_sensitive": False},
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1,
             "max_ngram": 4},
            {"name": "DIETClassifier", "epochs": params.epochs, "constrain_similarities": True,
             "number_of_transformer_layers": 0, "entity_recognition": False,
             "random_seed": params.random_seed},
            {"name": "RegexEntityExtractor", "use_lookup_tables": True, "use_regexes": True},
            {"name": "EntitySynonymMapper"},
            {"name": "FallbackClassifier", "threshold": params.fallback_threshold,
             "ambiguity_threshold": 0.0},
        ],
        "policies": [],
    }


def domain(data: TrainingData) -> dict:
    entities = {s.entity for e in data.examples for s in e.entities} | set(data.regexes)
    return {"version": "3.1", "intents": data.intents, "entities": sorted(entities)}


def training_data_yaml(data: TrainingData) -> str:
    """Rasa YAML for ``data`` (annotations, synonyms, lookups, regexes), for CV folds."""
    items: list[dict] = []
    for intent, examples in data.by_intent().items():
        lines = []
        for example in examples:
            text, cursor = "", 0
            for span in example.entities:
                surface = example.text[span.start:span.end]
                spec = json.dumps({"entity": span.entity, "value": span.value}, ensure_ascii=False)
                text += f"{example.text[cursor:span.start]}[{surface}]{spec}"
                cursor = span.end
            lines.append(text + example.text[cursor:])
        items.append({"intent": intent, "examples": _block(lines)})
    synonyms: dict[str, list[str]] = {}
    for surface, value in data.synonyms.items():
        synonyms.setdefault(value, []).append(surface)
    items += [{"synonym": v, "examples": _block(s)} for v, s in synonyms.items()]
    items += [{"lookup": n, "examples": _block(s)} for n, s in data.lookups.items()]
    items += [{"regex": n, "examples": _block(p)} for n, p in data.regexes.items()]
    return yaml.safe_dump({"version": "3.1", "nlu": items}, allow_unicode=True, sort_keys=False,
                          width=10_000)


def _block(lines: list[str]) -> str:
    return "".join(f"- {line}\n" for line in lines)


@dataclass(frozen=True)
class RasaProject:
    """A written project folder and the fingerprint of everything training depends on."""

    path: Path
    fingerprint: str

    @property
    def model_name(self) -> str:
        return f"nlu-{self.fingerprint[:16]}"


def write_project(path: Path, data: TrainingData, params: PipelineParams,
                  data_dir: Path | None = None) -> RasaProject:
    """Write config.yml, domain.yml and data/: copies of ``data_dir``'s files, else ``data``."""
    if path.exists():
        shutil.rmtree(path)
    (path / "data").mkdir(parents=True)
    texts = {
        "config.yml": yaml.safe_dump(pipeline_config(params), allow_unicode=True, sort_keys=False),
        "domain.yml": yaml.safe_dump(domain(data), allow_unicode=True, sort_keys=False),
    }
    if data_dir is not None:
        root = data_dir if data_dir.is_dir() else data_dir.parent
        for source in nlu_files(data_dir):
            texts[f"data/{source.relative_to(root).as_posix()}"] = source.read_text(encoding="utf-8")
    else:
        texts["data/nlu.yml"] = training_data_yaml(data)
    digest = hashlib.sha256(f"{RASA_VERSION}/{PROJECT_VERSION}".encode())
    for name in sorted(texts):
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(texts[name], encoding="utf-8")
        digest.update(name.encode() + b"\0" + texts[name].encode() + b"\0")
    return RasaProject(path, digest.hexdigest())
