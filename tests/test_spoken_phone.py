"""Phone numbers as French callers say them (as speech recognition writes them, or typed in
the browser phone), read back in pairs, and redacted from the call log however said."""

from __future__ import annotations

import pytest

from callbot.privacy import redact, redact_said_numbers
from callbot.spoken_phone import (
    Reading,
    dialable,
    digit_runs,
    in_pairs,
    other_number_asked,
    reachable,
    read_number,
)

MOBILE = "0612345678"


@pytest.mark.parametrize("said", [
    # in pairs, as most people do
    "zéro six douze trente-quatre cinquante-six soixante-dix-huit",
    "zero six douze trente quatre cinquante six soixante dix huit",  # Vosk: no accents, no dash
    "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit",
    "c'est le zéro six douze trente quatre cinquante six soixante dix huit",
    "mon numéro c'est le zéro six douze trente-quatre cinquante-six soixante-dix-huit merci",
    "oui alors c'est zéro six euh douze trente-quatre euh cinquante-six soixante-dix-huit",
    "zéro six douze trente-quatre cinquante-six et soixante-dix-huit",
    # digit by digit, or mixed
    "zéro six un deux trois quatre cinq six sept huit",
    "zéro six un deux, trente-quatre, cinq six, sept huit",
    "zéro 6 12 34 cinquante-six 78",
    # typed
    "06 12 34 56 78", "0612345678", "06.12.34.56.78", "06-12-34-56-78", "au 06 12 34 56 78 svp",
    # with the country code
    "+33 6 12 34 56 78", "+33612345678", "+33 (0)6 12 34 56 78", "0033 6 12 34 56 78",
    "plus trente-trois six douze trente-quatre cinquante-six soixante-dix-huit",
    "plus trente trois zéro six douze trente quatre cinquante six soixante dix huit",
    "trente-trois six douze trente-quatre cinquante-six soixante-dix-huit",
])
def test_ways_of_saying_one_number(said: str) -> None:
    read = read_number(said)
    assert (read.reading, read.digits) == (Reading.NUMBER, MOBILE), said
    assert read.mobile


@pytest.mark.parametrize(("said", "digits"), [
    ("zéro sept quatre-vingt-dix-neuf soixante et onze vingt et un zéro zéro", "0799712100"),
    ("zéro sept quatre vingts dix soixante et un quatre-vingt-un", None),  # 8 digits: partial
    ("zéro six soixante-dix soixante-dix-sept quatre-vingt-onze quatre-vingts", "0670779180"),
    ("zéro six septante huitante nonante dix-neuf", "0670809019"),  # Belgian, Swiss
    ("zéro six septante-deux huitante-trois nonante-neuf onze", "0672839911"),
    ("zéro six seize quinze quatorze treize", "0616151413"),
    ("zéro six vingt vingt et un vingt-deux dix-sept", "0620212217"),
    ("zéro deux quarante douze trente-quatre zéro zéro", "0240123400"),  # a landline
])
def test_every_pair_from_zero_to_ninety_nine(said: str, digits: str | None) -> None:
    read = read_number(said)
    if digits is None:
        assert read.reading is Reading.PARTIAL
    else:
        assert (read.reading, read.digits) == (Reading.NUMBER, digits)


@pytest.mark.parametrize(("said", "reading"), [
    ("sur un autre numéro", Reading.NONE),  # "un" is no number
    ("oui", Reading.NONE),
    ("zéro six douze", Reading.PARTIAL),  # the rest comes next
    ("zéro six", Reading.PARTIAL),
    ("plus trente-trois", Reading.PARTIAL),
    ("zéro six douze trente-quatre cinquante-six soixante-dix-huit quatre-vingt-dix", Reading.NONE),
    ("douze trente-quatre cinquante-six soixante-dix-huit", Reading.NONE),  # no 0 in front
    ("zéro zéro quarante-quatre", Reading.NONE),  # another country's prefix
    ("le 12 décembre à 10 h 30", Reading.NONE),
])
def test_what_is_no_number_yet(said: str, reading: Reading) -> None:
    assert read_number(said).reading is reading


def test_a_number_in_two_goes_and_a_corrected_one() -> None:
    first = read_number("zéro six douze")
    assert read_number("trente-quatre cinquante-six soixante-dix-huit", first.digits).digits == \
        MOBILE
    assert read_number("zéro six douze trente-quatre cinquante-six soixante-dix-huit",
                       first.digits).digits == MOBILE  # said again whole
    fixed = read_number("zéro six non pardon zéro sept douze trente-quatre cinquante-six "
                        "soixante-dix-huit")
    assert fixed.digits == "0712345678"


def test_runs_say_where_they_are() -> None:
    text = "oui c'est le zéro six douze trente-quatre cinquante-six soixante-dix-huit voilà"
    [run] = digit_runs(text)
    assert text[run.start:run.end] == "zéro six douze trente-quatre cinquante-six soixante-dix-huit"
    assert run.in_words and not digit_runs("06 12 34 56 78")[0].in_words


def test_read_back_in_pairs() -> None:
    assert in_pairs(MOBILE) == "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit"
    assert in_pairs("0700809101") == "zéro sept, zéro zéro, quatre-vingts, quatre-vingt-onze, un"\
        .replace(", un", ", zéro un")


@pytest.mark.parametrize(("caller", "sms_to", "callback"), [
    ("+33612345678", "+33612345678", True),
    ("0712345678", "+33712345678", True),
    ("sip:+33612345678@trunk.operateur.fr", "+33612345678", True),
    ("06 12 34 56 78", "+33612345678", True),
    ("+33240123400", None, True),  # a landline: no SMS, a callback yes
    ("0240123400", None, True),
    ("+32470123456", "+32470123456", True),  # abroad: the SMSC knows better
    ("anonymous", None, False), ("Anonymous", None, False), ("unknown", None, False),
    ("restricted", None, False), ("", None, False), (None, None, False),
])
def test_which_calling_numbers_take_an_sms_or_a_callback(caller: str | None,
                                                         sms_to: str | None,
                                                         callback: bool) -> None:
    assert reachable(caller) == sms_to
    assert dialable(caller) is callback


@pytest.mark.parametrize(("said", "elsewhere"), [
    ("oui sur un autre numéro", True), ("oui mais pas à ce numéro", True),
    ("sur mon autre portable s'il vous plaît", True), ("oui au zéro six douze", True),
    ("oui merci", False), ("non merci", False), ("oui par SMS", False),
])
def test_another_number_asked(said: str, elsewhere: bool) -> None:
    assert other_number_asked(said) is elsewhere


@pytest.mark.parametrize("sentence", [
    "oui c'est le zéro six douze trente-quatre cinquante-six soixante-dix-huit",
    "zero six un deux trois quatre cinq six sept huit",
    "plus trente-trois six douze trente-quatre cinquante-six soixante-dix-huit",
    "06 12 trente-quatre cinquante-six 78",
])
def test_a_number_said_in_words_is_redacted(sentence: str) -> None:
    redacted = redact(sentence)
    assert "[phone]" in redacted
    assert not any(word in redacted for word in ("douze", "trente", "quatre", "six", "12"))


def test_the_bots_lines_lose_a_read_back_number_and_keep_the_towns() -> None:
    line = ("Je répète : zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit. "
            "C'est bien ça ? Sinon, appelez le 02 40 12 34 00.")
    assert redact_said_numbers(line) == ("Je répète : [phone]. C'est bien ça ? Sinon, appelez "
                                         "le 02 40 12 34 00.")
    ordinary = "rendez-vous mardi 8 décembre à dix heures trente, entre 2020 et 2026"
    assert redact(ordinary) == ordinary == redact_said_numbers(ordinary)
