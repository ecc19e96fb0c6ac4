"""Appointments in the town's own CalDAV calendar (RFC 4791): Radicale, Nextcloud, SOGo, ….

Two callers must never get one slot, even from two processes: an event's UID and resource
name are a function of (calendar, slot start), and it is created with ``If-None-Match: *``,
so the server stores the first PUT and answers 412 to the second (``SlotTaken``). A booked
event overlapping the slot at another start time is checked for just before the PUT.

Events are stored in UTC; the dialogue sees naive local times of the town. The caller's name
and phone travel in ``X-CALLBOT-*`` properties (what ``find`` matches on) and, for the staff,
in the description: personal data that belongs in the town's calendar, never in a log line or
an error message.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import caldav
import icalendar
from caldav.lib import error as caldav_error
from caldav.lib.url import URL

from callbot.errands.ports import Booking, ConnectorError, Slot, SlotTaken

PHONE_PROPERTY = "X-CALLBOT-PHONE"
NAME_PROPERTY = "X-CALLBOT-NAME"
_PRODID = "-//Callbot//errands//FR"
_ICAL_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}
_CREATED_STATUSES = (200, 201, 204)
_GONE_STATUSES = (200, 204, 404)  # a booking already gone counts as cancelled
_FIND_HORIZON_DAYS = 400  # find() asks for a closed range, as servers prefer
_REASON_CHARS = 200


class CalDavCalendar:
    """``Calendar`` on a CalDAV server; one instance serves every call's worker thread."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 timeout_sec: float = 5.0, calendars: dict[str, str] | None = None,
                 timezone: str = "Europe/Paris", auth_type: Literal["basic", "digest"] = "basic",
                 ) -> None:
        """``calendars`` maps our calendar id to a calendar URL, or to a collection name under
        the user's calendar home, created at first use if missing (a fresh Radicale).
        ``auth_type`` is sent from the first request: no 401 round trip (which Radicale
        slows down on purpose) per worker thread."""
        self._url = url
        self._username = username
        self._password = password
        self._auth_type = auth_type if username else None
        self._timeout_sec = timeout_sec
        self._targets = dict(calendars or {})
        self._zone = ZoneInfo(timezone)
        self._server = urlsplit(url).netloc or url  # what error messages name
        self._local = threading.local()  # one HTTP session per worker thread
        self._lock = threading.Lock()
        self._clients: list[caldav.DAVClient] = []
        self._calendar_urls: dict[str, URL] = {}

    # --- Calendar --------------------------------------------------------------------------

    def busy(self, calendar: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Every booked interval overlapping [start, end), recurring events expanded."""
        with self._failures(f"reading calendar {calendar!r}"):
            return self._busy(calendar, start, end)

    def book(self, slot: Slot, name: str, phone: str | None) -> Booking:
        """Create the slot's event unless it exists (412) or something overlaps it."""
        what = f"booking {slot.calendar!r} at {slot.start:%Y-%m-%d %H:%M}"
        with self._failures(what):
            uid = slot_uid(slot)
            if not self._busy(slot.calendar, slot.start, slot.end):
                response = self._client().put(
                    str(self._event_url(slot.calendar, uid)),
                    self._event_ics(uid, slot, name, phone),
                    {"If-None-Match": "*", **_ICAL_HEADERS})
                if response.status in _CREATED_STATUSES:
                    return Booking(slot=slot, uid=uid, name=name, phone=phone)
                if response.status != 412:  # 412: the other caller's PUT came first
                    raise self._answered(what, response.status)
            raise SlotTaken(f"CalDAV {self._server}: {slot.calendar!r} at "
                            f"{slot.start:%Y-%m-%d %H:%M} is already booked")

    def cancel(self, booking: Booking) -> None:
        """Delete the booking's event; one already gone counts as cancelled."""
        what = f"cancelling a booking of {booking.slot.calendar!r}"
        with self._failures(what):
            url = self._event_url(booking.slot.calendar, booking.uid)
            response = self._client().delete(str(url))
            if response.status not in _GONE_STATUSES:
                raise self._answered(what, response.status)

    def find(self, calendar: str, phone: str, after: datetime) -> list[Booking]:
        """Our bookings for this phone starting at or after ``after``, soonest first."""
        with self._failures(f"looking up bookings in {calendar!r}"):
            events = self._collection(calendar).search(
                start=self._to_utc(after),
                end=self._to_utc(after + timedelta(days=_FIND_HORIZON_DAYS)), event=True)
            found = []
            for event in events:
                for component in event.get_icalendar_instance().walk("VEVENT"):
                    if str(component.get(PHONE_PROPERTY, "")) != phone:
                        continue
                    start, end = self._span(component)
                    if start >= after:
                        found.append(Booking(slot=Slot(calendar, start, end),
                                             uid=str(component["UID"]),
                                             name=str(component.get(NAME_PROPERTY, "")),
                                             phone=phone))
            return sorted(found, key=lambda booking: booking.slot.start)

    def close(self) -> None:
        """Close every worker thread's HTTP session; a later call opens new ones."""
        with self._lock:
            clients, self._clients = self._clients, []
            self._local = threading.local()
        for client in clients:
            client.close()

    # --- the server ------------------------------------------------------------------------

    def _busy(self, calendar: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        events = self._collection(calendar).search(
            start=self._to_utc(start), end=self._to_utc(end), event=True, expand=True)
        intervals = {interval for event in events for interval in self._intervals(event)}
        return sorted((s, e) for s, e in intervals if s < end and start < e)

    @contextmanager
    def _failures(self, what: str) -> Iterator[None]:
        """Whatever the HTTP, XML or iCalendar layers raise becomes a ``ConnectorError``."""
        try:
            yield
        except ConnectorError:
            raise
        except Exception as exc:  # the connector's boundary: niquests, lxml, caldav, icalendar
            raise ConnectorError(f"CalDAV {self._server}: {what} failed: {_reason(exc)}") from exc

    def _client(self) -> caldav.DAVClient:
        """This thread's client: HTTP sessions are not shared between threads."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = caldav.DAVClient(url=self._url, username=self._username,
                                      password=self._password, auth_type=self._auth_type,
                                      timeout=self._timeout_sec, enable_rfc6764=False)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _collection(self, calendar: str) -> caldav.Calendar:
        return caldav.Calendar(client=self._client(), url=self._calendar_url(calendar))

    def _event_url(self, calendar: str, uid: str) -> URL:
        return self._calendar_url(calendar).join(f"{uid}.ics")

    def _calendar_url(self, calendar: str) -> URL:
        """The calendar's collection URL, found (or made) once per calendar id."""
        with self._lock:
            known = self._calendar_urls.get(calendar)
        if known is not None:
            return known
        target = self._targets.get(calendar)
        if target is None:
            raise ConnectorError(f"CalDAV {self._server}: no calendar configured for {calendar!r}")
        # a value with "/" is a URL, or a path on the server; else a collection name
        url = (URL.objectify(self._url).join(target) if "/" in target
               else self._named_collection(target))
        with self._lock:
            self._calendar_urls[calendar] = url
        return url

    def _named_collection(self, name: str) -> URL:
        """The collection ``name`` under the user's calendar home, created if missing."""
        principal = self._client().principal()
        collection = principal.calendar(cal_id=name)
        try:
            collection.get_display_name()
        except caldav_error.NotFoundError:
            try:
                collection = principal.make_calendar(name=name, cal_id=name)
            except caldav_error.DAVError:
                collection.get_display_name()  # another process made it meanwhile, or raise
        return URL.objectify(collection.url)

    def _answered(self, what: str, status: int) -> ConnectorError:
        return ConnectorError(f"CalDAV {self._server}: {what}: the server answered {status}")

    # --- iCalendar -------------------------------------------------------------------------

    def _event_ics(self, uid: str, slot: Slot, name: str, phone: str | None) -> str:
        event = icalendar.Event()
        event.add("uid", uid)
        event.add("dtstamp", datetime.now(UTC))
        event.add("dtstart", self._to_utc(slot.start))
        event.add("dtend", self._to_utc(slot.end))
        event.add("summary", f"RDV {slot.calendar} — {name}")
        # VALUE=TEXT: an X- property is read back unescaped only when typed as text
        event.add(NAME_PROPERTY, icalendar.vText(name), parameters={"VALUE": "TEXT"})
        description = "Rendez-vous pris par le standard téléphonique automatique."
        if phone:
            event.add(PHONE_PROPERTY, icalendar.vText(phone), parameters={"VALUE": "TEXT"})
            description += f"\nTéléphone : {phone}"
        event.add("description", description)
        document = icalendar.Calendar()
        document.add("prodid", _PRODID)
        document.add("version", "2.0")
        document.add_component(event)
        return document.to_ical().decode("utf-8")

    def _intervals(self, event: caldav.Event) -> Iterator[tuple[datetime, datetime]]:
        for component in event.get_icalendar_instance().walk("VEVENT"):
            if str(component.get("STATUS", "")).upper() != "CANCELLED":
                yield self._span(component)

    def _span(self, component: icalendar.Event) -> tuple[datetime, datetime]:
        """(start, end) in naive local time; an all-day event covers its whole days."""
        start_value = component["DTSTART"].dt
        if "DTEND" in component:
            end_value = component["DTEND"].dt
        elif "DURATION" in component:
            end_value = start_value + component["DURATION"].dt
        elif isinstance(start_value, datetime):
            end_value = start_value
        else:
            end_value = start_value + timedelta(days=1)
        return self._to_local(start_value), self._to_local(end_value)

    def _to_local(self, value: date | datetime) -> datetime:
        if not isinstance(value, datetime):
            return datetime.combine(value, time())
        if value.tzinfo is None:  # floating time: the town's
            return value
        return value.astimezone(self._zone).replace(tzinfo=None)

    def _to_utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self._zone).astimezone(UTC)


def _reason(exc: Exception) -> str:
    """The error's type and first line (caldav's repeat the type, niquests' are long)."""
    line = (str(exc).strip().splitlines() or [""])[0][:_REASON_CHARS]
    kind = type(exc).__name__
    return line if line.startswith(kind) else f"{kind} {line}".rstrip()


def slot_uid(slot: Slot) -> str:
    """The event UID (and resource name) of a slot: the same for every caller, by design."""
    calendar = re.sub(r"[^A-Za-z0-9]+", "-", slot.calendar).strip("-") or "calendar"
    return f"callbot-{calendar}-{slot.start:%Y%m%dT%H%M%S}"
