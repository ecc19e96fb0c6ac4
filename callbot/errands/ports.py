"""What the errand dialogues need from the outside world, as small synchronous interfaces.

The conversation runs in a worker thread (``Conversation.run_stage``), so connectors are plain
blocking calls with their own timeouts; every failure is a ``ConnectorError`` whose message
says what failed, so the dialogue can tell the caller "je n'ai pas pu …" or hand over to a
person, never leaving a half-booked slot. Tests give fakes only where a real server cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class ConnectorError(RuntimeError):
    """A calendar, SMS or mail server failed, timed out or refused; the text says which."""


class SlotTaken(ConnectorError):
    """Someone booked this slot between the offer and the caller's yes."""


@dataclass(frozen=True)
class Slot:
    """One appointment slot of a service's calendar (naive local time of the town)."""

    calendar: str  # the service's calendar id, e.g. "etat-civil"
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Booking:
    """A booked slot as the calendar holds it."""

    slot: Slot
    uid: str  # the event's UID in the calendar: what cancels or moves it
    name: str  # as the caller gave it (spelled if needed)
    phone: str | None = None  # the caller's number, for the SMS confirmation; never logged raw


class Calendar(Protocol):
    def busy(self, calendar: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Every booked interval overlapping [start, end)."""
        ...

    def book(self, slot: Slot, name: str, phone: str | None) -> Booking:
        """Book the slot, atomically: ``SlotTaken`` if it is no longer free."""
        ...

    def cancel(self, booking: Booking) -> None: ...

    def find(self, calendar: str, phone: str, after: datetime) -> list[Booking]:
        """The caller's upcoming bookings (to cancel or move one by phone)."""
        ...


class SmsSender(Protocol):
    def send(self, to: str, text: str) -> str:
        """Send one SMS (split into parts if long); returns the gateway's message id."""
        ...


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...
