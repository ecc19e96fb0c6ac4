"""What the call log may keep about a caller: a keyed pseudonym and redacted sentences.

The raw calling number never reaches storage: it becomes an HMAC under a key the town
keeps (``CALLBOT_STORE__PSEUDONYM_KEY``), so the same caller gives the same pseudonym
(repeat callers can be counted) but nobody without the key can go back to the number.
Transcripts lose phone numbers (in digits or said in words), e-mail addresses, IBANs and
French social-security numbers (NIR) before they are written anywhere, spool file included;
the bot's lines lose the numbers it read back in words (a number the caller gave for an SMS).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from loguru import logger

from callbot.spoken_phone import IDENTIFIER_MIN_DIGITS, digit_runs

PSEUDONYM_LENGTH = 16  # hex characters kept from the HMAC-SHA256

#: Order matters: the longest, most specific patterns first (an IBAN contains digit runs).
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("[email]", re.compile(r"[\w.+-]+\s*(?:@|\barobase\b)\s*[\w-]+(?:\s*(?:\.|\bpoint\b)\s*[\w-]+)+",
                           re.IGNORECASE)),
    ("[iban]", re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}(?:\s?[A-Z0-9]{1,4})?\b",
                          re.IGNORECASE)),
    # NIR: sex, year, month, department (2A/2B for Corsica), commune, order, optional key
    ("[nir]", re.compile(r"\b[12]\s?\d{2}\s?(?:0[1-9]|1[0-2]|[2-9]\d)\s?(?:\d{2}|2[AB])\s?\d{3}"
                         r"\s?\d{3}(?:\s?\d{2})?\b", re.IGNORECASE)),
    ("[phone]", re.compile(r"(?<![\w+])(?:\+|00)?\d(?:[\s.-]?\d){8,13}\b")),
)


def redact(text: str) -> str:
    """The sentence with personal identifiers replaced by a bracketed tag."""
    for tag, pattern in _PATTERNS:
        text = pattern.sub(tag, text)
    return redact_said_numbers(text)


def redact_said_numbers(text: str) -> str:
    """A number said in words as long as a phone number ("zéro six, douze, trente-quatre…",
    as recognised, or as the bot reads one back) replaced by ``[phone]``. The bot's own
    lines go through this only: the town's numbers are written there in digits, and stay."""
    for run in reversed(digit_runs(text)):
        if run.in_words and sum(c.isdigit() for c in run.digits) >= IDENTIFIER_MIN_DIGITS:
            text = f"{text[:run.start]}[phone]{text[run.end:]}"
    return text


def pseudonymise(caller_id: str | None, key: bytes) -> str | None:
    """Keyed, stable pseudonym of a calling number (digits only, so formats agree)."""
    if not caller_id:
        return None
    normalised = re.sub(r"\D", "", caller_id) or caller_id
    if normalised.startswith("33") and len(normalised) == 11:
        normalised = "0" + normalised[2:]
    digest = hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH]


def load_key(configured: str | None, key_file: Path) -> bytes:
    """The configured key, else one generated once and kept (mode 0600) beside the database."""
    if configured:
        return configured.encode()
    try:
        return key_file.read_bytes().strip()
    except FileNotFoundError:
        pass
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return key_file.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    logger.warning(f"no store.pseudonym_key configured: generated one in {key_file}; "
                   "keep it, or pseudonyms change")
    return key
