"""JSON that comes from outside (a PBX, a Rasa server): one error type, whatever went wrong.

``json.loads`` raises more than ``JSONDecodeError`` on hostile text: ``RecursionError`` for
``[[[[…`` nested a thousand deep, ``ValueError`` for an integer of more than 4 300 digits,
``UnicodeDecodeError`` for bytes that are not UTF-8. Callers catch ``JsonInputError`` only.
"""

from __future__ import annotations

import json
from typing import Any


class JsonInputError(ValueError):
    """Text that is not acceptable JSON; the message says why, without the text itself."""


def load_json(text: str | bytes) -> Any:
    """Decoded JSON whose every string can be written as UTF-8 (no lone ``\\udXXX``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(exc.msg) from None
    except RecursionError:
        raise JsonInputError("nested too deeply") from None
    except UnicodeDecodeError:
        raise JsonInputError("not UTF-8 text") from None
    except ValueError as exc:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise JsonInputError(str(exc).split(":")[0]) from None
    _check_strings(value)
    return value


def _check_strings(value: Any) -> None:
    """Walk without recursion: the value may be nested almost a thousand deep."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise JsonInputError("a string holds a lone surrogate (\\udXXX)") from None
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
