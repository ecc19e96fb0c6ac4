"""What one ``callbot doctor`` check finds: its own module, so the local checks
(``callbot.doctor``) and the network ones (``callbot.doctor_net``) share it without a circle."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, and how to fix it when it is not OK."""

    status: Status
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status:<4}  {self.what}" + (f"  — {self.fix}" if self.fix else "")


def one_line(exc: BaseException) -> str:
    """An exception as one readable line: drivers' messages span lines, and SQLAlchemy wraps
    the driver's error (kept in ``orig``, raised from the real one) in its own words."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        exc = orig.__cause__ or orig
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
