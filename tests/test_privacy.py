"""Redaction of transcripts and keyed pseudonyms of calling numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbot.privacy import load_key, pseudonymise, redact


@pytest.mark.parametrize(("sentence", "tag", "secret"), [
    ("rappelez-moi au 06 12 34 56 78 s'il vous plaît", "[phone]", "06 12 34 56 78"),
    ("mon numéro c'est le 0612345678", "[phone]", "0612345678"),
    ("le +33 6 12 34 56 78 merci", "[phone]", "+33 6 12 34 56 78"),
    ("c'est le 02.40.12.34.00", "[phone]", "02.40.12.34.00"),
    ("écrivez à marie.curie@exemple.fr demain", "[email]", "marie.curie@exemple.fr"),
    ("mon adresse jean dupont arobase gmail point com", "[email]", "dupont arobase gmail point com"),
    ("IBAN FR76 3000 6000 0112 3456 7890 189 voilà", "[iban]", "FR76 3000 6000 0112 3456 7890 189"),
    ("iban fr7630006000011234567890189", "[iban]", "fr7630006000011234567890189"),
    ("ma sécu 1 85 05 78 006 084 36", "[nir]", "1 85 05 78 006 084 36"),
    ("numéro de sécurité sociale 285052A00608436", "[nir]", "285052A00608436"),
])
def test_identifiers_are_redacted(sentence: str, tag: str, secret: str) -> None:
    redacted = redact(sentence)
    assert tag in redacted
    assert secret not in redacted


@pytest.mark.parametrize("sentence", [
    "la mairie ouvre à 8h30 le 12 décembre 2026",
    "il me faut un acte de naissance pour 2 personnes",
    "le code postal c'est 44350",
])
def test_ordinary_sentences_are_kept(sentence: str) -> None:
    assert redact(sentence) == sentence


def test_pseudonyms_are_keyed_and_stable() -> None:
    same = {pseudonymise(n, b"k1") for n in ("+33 6 12 34 56 78", "0612345678", "06.12.34.56.78")}
    assert len(same) == 1
    assert pseudonymise("0612345678", b"k2") not in same
    assert pseudonymise(None, b"k1") is None


def test_generated_key_is_kept_private(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "pseudonym.key"
    key = load_key(None, key_file)
    assert load_key(None, key_file) == key and len(key) == 64
    assert key_file.stat().st_mode & 0o077 == 0
    assert load_key("configured", key_file) == b"configured"
