"""French phone numbers as people write them in a spreadsheet → E.164, or why not.

A list typed by hand or exported from a register holds "06 12 34 56 78", "06.12.34.56.78",
"+33 (0)6 12 34 56 78", "0033 6 …", and, from a spreadsheet that stored the column as a
number, "612345678" (the leading zero eaten). All of them are the same line: ``+33612345678``.
Overseas departments keep their own country codes (0590 … → ``+590590…``). A number from
another country, a short or special-rate number, or a cell with two numbers is refused with a
reason the agent can act on: the campaign calls people, and a wrong number calls a stranger.
"""

from __future__ import annotations

import re

#: National prefixes (after the 0) of the overseas departments → their E.164 country code.
OVERSEAS: dict[str, str] = {
    "590": "590", "690": "590", "691": "590",  # Guadeloupe, Saint-Martin, Saint-Barthélemy
    "596": "596", "696": "596", "697": "596",  # Martinique
    "594": "594", "694": "594",  # Guyane
    "262": "262", "263": "262", "692": "262", "693": "262",  # La Réunion
    "269": "262", "639": "262",  # Mayotte
}
#: Country codes accepted written in international form, besides +33.
OVERSEAS_CODES = frozenset(OVERSEAS.values())
NATIONAL_DIGITS = 10  # 0 + 9 digits
SUBSCRIBER_DIGITS = 9
#: More digits than this in one cell is two numbers, not one long one.
MAX_DIGITS = 15
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")  # "+33 (0)6 …"
_SEPARATORS = re.compile(r"[\s.\-/()]+")
_INTERNATIONAL = re.compile(r"^(?:\+|00)(\d+)$")


class PhoneError(ValueError):
    """The cell is no French phone line; the message says why, for the import report."""


def _national(digits: str, written: str) -> str:
    """'0612345678' → '+33612345678' (or an overseas code); raises ``PhoneError``."""
    if len(digits) != NATIONAL_DIGITS:
        raise PhoneError(f"'{written}' has {len(digits)} digits; a French number has 10 "
                         "(like 06 12 34 56 78)")
    if digits[1] == "8":
        raise PhoneError(f"'{written}' is a special-rate or service number (08…), not a "
                         "person's line")
    if digits[1] == "0":
        raise PhoneError(f"'{written}' is not a French number (no French number starts with 00 "
                         "after the prefix)")
    overseas = OVERSEAS.get(digits[1:4])
    if overseas:
        return f"+{overseas}{digits[1:]}"
    return f"+33{digits[1:]}"


def _international(number: str, written: str) -> str:
    if number.startswith("33"):
        subscriber = number[2:].removeprefix("0") if len(number) == 12 else number[2:]
        return _national("0" + subscriber, written)
    for code in OVERSEAS_CODES:
        if number.startswith(code) and len(number) == len(code) + SUBSCRIBER_DIGITS:
            return _national("0" + number[len(code):], written)
    raise PhoneError(f"'{written}' is not a French number (+{number[:3]}…): the campaign only "
                     "calls French lines")


def to_e164(raw: str) -> str:
    """The E.164 form of a French number as written; raises ``PhoneError`` with the reason."""
    written = " ".join(raw.split())
    if not written:
        raise PhoneError("no phone number")
    if re.search(r"[a-zA-Z]", written):
        raise PhoneError(f"'{written}' has letters in it; write the number alone")
    compact = _SEPARATORS.sub("", _TRUNK_ZERO.sub("", written))
    if not re.fullmatch(r"\+?\d+", compact):
        raise PhoneError(f"'{written}' is not a phone number")
    if len(compact.lstrip("+")) > MAX_DIGITS:
        raise PhoneError(f"'{written}' looks like more than one number; keep one per row")
    international = _INTERNATIONAL.match(compact)
    if international:
        return _international(international.group(1), written)
    if len(compact) == SUBSCRIBER_DIGITS and compact[0] != "0":
        return _national("0" + compact, written)  # the spreadsheet ate the leading zero
    if len(compact) == 11 and compact.startswith("33"):
        return _international(compact, written)
    return _national(compact, written)


def national(e164: str) -> str:
    """'+33240123400' → '02 40 12 34 00': how the town's number is said and shown."""
    for code in ("33", *sorted(OVERSEAS_CODES)):
        if e164.startswith(f"+{code}") and len(e164) == len(code) + 1 + SUBSCRIBER_DIGITS:
            digits = "0" + e164[len(code) + 1:]
            return " ".join(digits[i:i + 2] for i in range(0, NATIONAL_DIGITS, 2))
    return e164
