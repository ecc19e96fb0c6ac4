"""The Rasa-YAML reader, on the real nlu_data and on broken files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from callbot.nlu.evaluation import read_tsv
from callbot.nlu.intents import ALL_INTENTS
from callbot.nlu.text import features_text
from callbot.nlu.training_data import TrainingData, load_training_data, parse_example
from callbot.problems import DataError
from tests.conftest import SHARED

MIN_EXAMPLES = 20


def test_parse_example_reads_both_annotation_forms() -> None:
    text, spans = parse_example(
        'la [déchetterie](service) ouvre [ce matin]{"entity": "day", "value": "aujourdhui"}'
    )
    assert text == "la déchetterie ouvre ce matin"
    assert [(s.entity, s.value, text[s.start : s.end]) for s in spans] == [
        ("service", "déchetterie", "déchetterie"),
        ("day", "aujourdhui", "ce matin"),
    ]


def test_parse_example_rejects_bad_json() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_example('[x]{"entity": day}')


def test_every_contract_intent_has_enough_examples(training_data: TrainingData) -> None:
    counts = {intent: len(examples) for intent, examples in training_data.by_intent().items()}
    assert set(counts) == set(ALL_INTENTS)
    assert min(counts.values()) >= MIN_EXAMPLES, counts


@pytest.mark.skipif(not (SHARED / "contract" / "intents.tsv").exists(), reason="no shared/")
def test_intent_list_matches_the_shared_contract() -> None:
    rows = (SHARED / "contract" / "intents.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert {row.split("\t")[0] for row in rows if row.strip()} == set(ALL_INTENTS)


def test_required_entities_and_synonyms_are_present(training_data: TrainingData) -> None:
    annotated = {s.entity for e in training_data.examples for s in e.entities}
    assert {"service", "day", "certificate_type", "document"} <= annotated
    assert {"service", "day", "certificate_type", "document"} <= set(training_data.lookups)
    assert training_data.synonyms["déchèterie"] == "dechetterie"


@pytest.mark.skipif(not (SHARED / "benchmarks" / "nlu").exists(), reason="no shared/")
def test_no_benchmark_sentence_leaked_into_training(training_data: TrainingData) -> None:
    def norm(text: str) -> str:
        return re.sub(r"[^\w]+", " ", text.lower()).strip()

    rows = (SHARED / "benchmarks/nlu/external_questions.tsv").read_text(encoding="utf-8")
    bench = {norm(line.split("\t")[1]) for line in rows.splitlines()[1:] if "\t" in line}
    training = {norm(e.text) for e in training_data.examples}
    assert not bench & training


#: Character n-gram cosine from which a training sentence is a close paraphrase of a
#: benchmark question ("comment on fait X" for "comment faire X ?"). Bare keywords of the
#: topic ("carte d'identité") stay below it: they are how callers speak, not a copy.
PARAPHRASE_COSINE = 0.9


@pytest.mark.skipif(not (SHARED / "benchmarks" / "nlu").exists(), reason="no shared/")
def test_no_benchmark_question_paraphrased_into_training(training_data: TrainingData) -> None:
    """Rewording a benchmark question is a leak too: the external figures would be flattered."""
    rows = read_tsv(SHARED / "benchmarks/nlu/external_questions.tsv")
    bench = [features_text(text) for _, text in rows]
    training = [features_text(e.text) for e in training_data.examples]
    vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    vectoriser.fit(training + bench)
    cosine = (vectoriser.transform(training) @ vectoriser.transform(bench).T).toarray()
    close = [(training[i], bench[j]) for i, j in zip(*np.nonzero(cosine >= PARAPHRASE_COSINE),
                                                        strict=True)]
    assert close == []


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "nlu.yml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return tmp_path


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    folder = _write(tmp_path, 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - salut\n  - : [\n')
    with pytest.raises(DataError) as error:
        load_training_data(folder)
    problem = error.value.problems[0]
    assert problem.file.endswith("nlu.yml") and problem.line == 6
    assert "invalid YAML" in problem.message


def test_non_utf8_file_is_a_clear_error(tmp_path: Path) -> None:
    folder = _write(tmp_path, b'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - caf\xe9\n')
    with pytest.raises(DataError, match="not UTF-8"):
        load_training_data(folder)


def test_all_problems_are_reported_with_lines(tmp_path: Path) -> None:
    folder = _write(tmp_path, (
        'version: "3.1"\nnlu:\n'
        "- intent: greet\n  examples: |\n    - [x]{bad json}\n    - salut\n"
        "- regex: time\n  examples: |\n    - ([0-9\n"
        "- intent: empty\n"
    ))
    with pytest.raises(DataError) as error:
        load_training_data(folder)
    lines = sorted((p.line, p.message.split(":")[0]) for p in error.value.problems)
    assert [line for line, _ in lines] == [5, 9, 10]


def test_unknown_intent_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    folder = _write(tmp_path, 'version: "3.1"\nnlu:\n- intent: order_pizza\n  examples: |\n    - une pizza\n')
    data = load_training_data(folder)
    assert [w.message for w in data.warnings] == ["intent 'order_pizza' is not in the contract"]
    assert data.warnings[0].line == 5
