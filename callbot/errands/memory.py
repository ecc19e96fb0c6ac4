"""In-memory connectors: a calendar, an SMS sender and a mailer that keep what they are given.

Test doubles, not the product path (a town's calendar is CalDAV, its SMS go through SMPP or
a web gateway: ``connectors/``, tested against real servers): they let the scenario files
(``callbot/scenarios.py``) play errands in milliseconds without a server. The calendar keeps
the contract of ``ports.Calendar`` as ``CalDavCalendar`` does: a slot is booked once
(``SlotTaken`` after), bookings are found by the caller's number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from callbot.errands.ports import Booking, ConnectorError, Slot, SlotTaken


@dataclass
class MemoryCalendar:
    bookings: list[Booking] = field(default_factory=list)

    def busy(self, calendar: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        return sorted((b.slot.start, b.slot.end) for b in self.bookings
                      if b.slot.calendar == calendar and b.slot.start < end and b.slot.end > start)

    def book(self, slot: Slot, name: str, phone: str | None) -> Booking:
        if self.busy(slot.calendar, slot.start, slot.end):
            raise SlotTaken(f"{slot.calendar} {slot.start:%Y-%m-%d %H:%M} is already booked")
        booking = Booking(slot, f"memory-{slot.calendar}-{slot.start:%Y%m%dT%H%M}", name, phone)
        self.bookings.append(booking)
        return booking

    def cancel(self, booking: Booking) -> None:
        kept = [b for b in self.bookings if b.uid != booking.uid]
        if len(kept) == len(self.bookings):
            raise ConnectorError(f"no booking {booking.uid} to cancel")
        self.bookings = kept

    def find(self, calendar: str, phone: str, after: datetime) -> list[Booking]:
        return sorted((b for b in self.bookings if b.slot.calendar == calendar
                       and b.phone == phone and b.slot.start >= after),
                      key=lambda b: b.slot.start)


@dataclass
class MemorySms:
    """``refuse``: every SMS fails, as when the operator's gateway is down."""

    refuse: bool = False
    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, to: str, text: str) -> str:
        if self.refuse:
            raise ConnectorError("the SMS gateway refused the message")
        self.sent.append((to, text))
        return f"memory-{len(self.sent)}"


@dataclass
class MemoryMailer:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))
