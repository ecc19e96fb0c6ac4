"""CalDavCalendar against a real Radicale 3: booking, races, cancel, find, a dead server.

One Radicale serves the module; the dead-server test starts its own, to stop it. Each test
books on its own day, so the tests do not see each other's events.
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from errand_servers import Radicale

from callbot.errands.connectors.caldav_calendar import CalDavCalendar, slot_uid
from callbot.errands.connectors.factory import build_calendar, build_connectors
from callbot.errands.connectors.settings import CalendarSettings, ErrandSettings
from callbot.errands.ports import Booking, ConnectorError, Slot, SlotTaken
from callbot.ports import free_port

USER = "mairie"
#: Radicale takes any password (auth none); the user owns /mairie/.
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:any".encode()).decode()}
CALENDARS = {"etat-civil": "etat-civil", "urbanisme": "urbanisme"}
PHONE = "+33612345678"
TIMEOUT_SEC = 1.0
MARGIN_SEC = 1.5  # a refused or timed-out request returns within its timeout plus this


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale")).start()
    yield server
    server.stop()


def _calendar(server: Radicale) -> CalDavCalendar:
    return CalDavCalendar(server.url, USER, "any", TIMEOUT_SEC, CALENDARS,
                          timezone="Europe/Paris")


@pytest.fixture(scope="module")
def calendar(radicale: Radicale) -> Iterator[CalDavCalendar]:
    connector = _calendar(radicale)
    yield connector
    connector.close()


def _slot(day: str, hour: str = "09:00", minutes: int = 15, calendar: str = "etat-civil") -> Slot:
    start = datetime.fromisoformat(f"{day}T{hour}")
    return Slot(calendar, start, start + timedelta(minutes=minutes))


def _day(day: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(day)
    return start, start + timedelta(days=1)


def _stored(server: Radicale, calendar: str, uid: str) -> str:
    """The event as Radicale holds it."""
    url = f"{server.url}{USER}/{calendar}/{uid}.ics"
    request = urllib.request.Request(url, headers=AUTH)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode("utf-8")


def test_a_booked_slot_is_busy_and_stored_in_utc_with_name_and_phone(
        calendar: CalDavCalendar, radicale: Radicale) -> None:
    winter, summer = _slot("2027-01-11"), _slot("2027-07-12", "14:30", 30)
    booking = calendar.book(winter, "Élodie Martin, née Durand", PHONE)
    calendar.book(summer, "Paul", None)

    assert booking == Booking(winter, slot_uid(winter), "Élodie Martin, née Durand", PHONE)
    assert calendar.busy("etat-civil", *_day("2027-01-11")) == [(winter.start, winter.end)]
    assert calendar.busy("etat-civil", *_day("2027-07-12")) == [(summer.start, summer.end)]
    assert calendar.busy("urbanisme", *_day("2027-01-11")) == []
    # half-open intervals: the quarter after the slot is free
    assert calendar.busy("etat-civil", winter.end, winter.end + timedelta(minutes=15)) == []
    stored = _stored(radicale, "etat-civil", booking.uid)
    assert "DTSTART:20270111T080000Z" in stored  # 09:00 in Paris, winter time
    assert "SUMMARY:RDV etat-civil — Élodie Martin\\, née Durand" in stored
    assert f"X-CALLBOT-PHONE;VALUE=TEXT:{PHONE}" in stored
    assert "DTSTART:20270712T123000Z" in _stored(radicale, "etat-civil", slot_uid(summer))


def _race(slot: Slot, *callers: tuple[CalDavCalendar, str]) -> tuple[list[Booking],
                                                                    list[SlotTaken]]:
    """Every caller books ``slot`` at once, each in its own thread, as calls do."""
    barrier = threading.Barrier(len(callers))
    bookings: list[Booking] = []
    refusals: list[SlotTaken] = []

    def call(connector: CalDavCalendar, name: str) -> None:
        barrier.wait()
        try:
            bookings.append(connector.book(slot, name, PHONE))
        except SlotTaken as refusal:
            refusals.append(refusal)

    threads = [threading.Thread(target=call, args=caller) for caller in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return bookings, refusals


@pytest.mark.parametrize("mode", ["one connector", "two connectors", "the PUT alone"])
def test_two_callers_racing_for_one_slot_get_one_booking(
        radicale: Radicale, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """As two calls in two worker threads, of one connector or of two processes; without the
    overlap check before it, the ``If-None-Match: *`` PUT alone still lets one through."""
    first = _calendar(radicale)
    second = first if mode == "one connector" else _calendar(radicale)
    if mode == "the PUT alone":
        for connector in (first, second):
            monkeypatch.setattr(connector, "_busy", lambda *_: [])
    day = {"one connector": "2027-02-01", "two connectors": "2027-02-02"}.get(mode, "2027-02-03")
    for round_ in range(5):
        slot = _slot(day, f"{9 + round_:02d}:00")
        bookings, refusals = _race(slot, (first, "Anne"), (second, "Bruno"))
        assert (len(bookings), len(refusals)) == (1, 1), round_
        assert "is already booked" in str(refusals[0])
    assert len(_calendar(radicale).busy("etat-civil", *_day(day))) == 5  # one event per slot
    first.close()
    second.close()


def test_a_slot_overlapping_a_booking_at_another_time_is_taken(calendar: CalDavCalendar) -> None:
    calendar.book(_slot("2027-03-01", "10:00", 30), "Anne", PHONE)
    with pytest.raises(SlotTaken):
        calendar.book(_slot("2027-03-01", "10:15", 30), "Bruno", None)
    calendar.book(_slot("2027-03-01", "10:30", 30), "Bruno", None)  # adjacent is fine


def test_cancel_frees_the_slot(calendar: CalDavCalendar) -> None:
    slot = _slot("2027-03-08")
    booking = calendar.book(slot, "Anne", PHONE)
    calendar.cancel(booking)
    assert calendar.busy("etat-civil", *_day("2027-03-08")) == []
    calendar.cancel(booking)  # already gone: nothing to do
    assert calendar.book(slot, "Bruno", None).name == "Bruno"


def test_find_lists_the_callers_upcoming_bookings(calendar: CalDavCalendar) -> None:
    past = calendar.book(_slot("2027-04-05", "09:00"), "Anne Lefèvre", PHONE)
    later = calendar.book(_slot("2027-04-19", "11:00"), "Anne Lefèvre", PHONE)
    sooner = calendar.book(_slot("2027-04-12", "16:45"), "Anne Lefèvre", PHONE)
    calendar.book(_slot("2027-04-12", "09:00"), "Bruno", "+33700000000")
    calendar.book(_slot("2027-04-13", "09:00", calendar="urbanisme"), "Anne Lefèvre", PHONE)

    found = calendar.find("etat-civil", PHONE, datetime(2027, 4, 6))

    assert found == [sooner, later]
    assert past not in found
    assert calendar.find("etat-civil", "+33699999999", datetime(2027, 4, 6)) == []


def test_an_event_of_the_staff_in_local_time_and_recurring_is_busy(
        calendar: CalDavCalendar, radicale: Radicale) -> None:
    """Typed in a calendar app: TZID Europe/Paris, every Tuesday 14:00-16:00."""
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//FR\r\n"
           "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"
           "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"
           "\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
           "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"
           "\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
           "BEGIN:VEVENT\r\nUID:permanence@mairie\r\nDTSTAMP:20270101T000000Z\r\n"
           "DTSTART;TZID=Europe/Paris:20270504T140000\r\n"
           "DTEND;TZID=Europe/Paris:20270504T160000\r\n"
           "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Permanence\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    request = urllib.request.Request(f"{radicale.url}{USER}/urbanisme/permanence.ics",
                                     data=ics.encode(), method="PUT",
                                     headers={"Content-Type": "text/calendar", **AUTH})
    calendar.busy("urbanisme", *_day("2027-05-01"))  # the collection exists from here on
    urllib.request.urlopen(request, timeout=5).close()

    busy = calendar.busy("urbanisme", datetime(2027, 5, 3), datetime(2027, 5, 17))

    assert busy == [(datetime(2027, 5, 4, 14), datetime(2027, 5, 4, 16)),
                    (datetime(2027, 5, 11, 14), datetime(2027, 5, 11, 16))]
    with pytest.raises(SlotTaken):
        calendar.book(_slot("2027-05-11", "15:00", calendar="urbanisme"), "Anne", PHONE)


def test_a_dead_server_fails_within_the_timeout_and_books_nothing(tmp_path: Path) -> None:
    server = Radicale(tmp_path).start()
    try:
        calendar = _calendar(server)
        first = calendar.book(_slot("2027-06-07", "09:00"), "Anne", PHONE)
        server.pause()  # hung: accepts, never answers
        for attempt in (lambda: calendar.busy("etat-civil", *_day("2027-06-07")),
                        lambda: calendar.book(_slot("2027-06-07", "10:00"), "Bruno", PHONE)):
            started = time.monotonic()
            with pytest.raises(ConnectorError) as failure:
                attempt()
            assert time.monotonic() - started < TIMEOUT_SEC + MARGIN_SEC
            assert f"CalDAV 127.0.0.1:{server.port}" in str(failure.value)
            assert PHONE not in str(failure.value)
        server.resume()
        assert calendar.busy("etat-civil", *_day("2027-06-07")) == [
            (first.slot.start, first.slot.end)]  # no half-booked 10:00

        server.stop()  # gone: connection refused
        started = time.monotonic()
        with pytest.raises(ConnectorError, match="booking 'etat-civil' at 2027-06-07 11:00"):
            calendar.book(_slot("2027-06-07", "11:00"), "Chloé", PHONE)
        with pytest.raises(ConnectorError, match="reading calendar 'etat-civil' failed"):
            calendar.busy("etat-civil", *_day("2027-06-07"))
        assert time.monotonic() - started < TIMEOUT_SEC + MARGIN_SEC
        calendar.close()
    finally:
        server.stop()


def test_wrong_urls_and_unknown_calendars_are_connector_errors(radicale: Radicale) -> None:
    nowhere = CalDavCalendar(f"http://127.0.0.1:{free_port()}/", USER, "any", TIMEOUT_SEC,
                             CALENDARS)
    with pytest.raises(ConnectorError, match="CalDAV 127.0.0.1:"):
        nowhere.busy("etat-civil", *_day("2027-06-14"))

    foreign = CalDavCalendar(radicale.url, USER, "any", TIMEOUT_SEC,
                             {"etat-civil": "/quelquun-dautre/agenda/"})
    with pytest.raises(ConnectorError, match="404"):  # Radicale hides what is not ours
        foreign.book(_slot("2027-06-14"), "Anne", PHONE)

    with pytest.raises(ConnectorError, match="no calendar configured for 'sport'"):
        _calendar(radicale).busy("sport", *_day("2027-06-14"))


def test_the_factory_builds_a_calendar_only_when_configured(radicale: Radicale) -> None:
    assert build_connectors(ErrandSettings()).calendar is None
    settings = CalendarSettings(url=radicale.url, username=USER, password="any",
                                calendars=CALENDARS)
    calendar = build_calendar(settings, "Europe/Paris")
    assert isinstance(calendar, CalDavCalendar)
    assert calendar.busy("etat-civil", *_day("2027-06-21")) == []
