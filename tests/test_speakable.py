"""Written French → spoken French for speech synthesis."""

from __future__ import annotations

import pytest

from callbot.kb.speakable import to_spoken, unspeakable


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("ouvert de 8h30 à 12h", "ouvert de huit heures trente à douze heures"),
        ("à 1h", "à une heure"),
        ("au 02 40 12 34 56.", "au zéro deux, quarante, douze, trente-quatre, cinquante-six."),
        ("le repas coûte 3,50 €", "le repas coûte trois euros cinquante"),
        ("un timbre de 25 euros", "un timbre de vingt-cinq euros"),
        ("le 1er janvier 2027", "le premier janvier deux mille vingt-sept"),
        ("au 2e étage", "au deuxième étage"),
        ("M. le maire et Mme la maire", "monsieur le maire et madame la maire"),
        ("le CCAS, n° 12", "le cé cé a esse, numéro douze"),
        ("50 % des places", "cinquante pour cent des places"),
    ],
)
def test_to_spoken(written: str, spoken: str) -> None:
    assert to_spoken(written) == spoken


def test_unspeakable_reasons() -> None:
    assert unspeakable("Appelez le 02 40 12 34 56.") is None
    assert "web or e-mail" in (unspeakable("écrivez à mairie@villebrune.fr") or "")
    assert unspeakable("voir la DGFIP") == (
        "abbreviation 'DGFIP' has no spoken form (add it to ABBREVIATIONS)")
    assert unspeakable("prix # 3") == "characters that cannot be spoken: #"
