"""Free slots from opening hours and bookings, and how the bot says them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from callbot.errands.ports import Slot
from callbot.errands.slot_speech import read_spelling, say_slot, say_slots, spell_out, write_slot
from callbot.errands.slots import BusyIndex, free_slots
from callbot.errands.when import When
from callbot.kb.model import Closure, Service, TimeRange

_DAY = (TimeRange(time(8, 30), time(12)), TimeRange(time(13, 30), time(17)))
SERVICE = Service("etat_civil", "le service état civil", "1 place de la République", "02 40 12 34 10",
                  hours=(_DAY, _DAY, _DAY, _DAY, _DAY, (TimeRange(time(9), time(12)),), ()),
                  closures=(Closure(date(2026, 12, 24), date(2026, 12, 24), "veille de Noël"),))
NOW = datetime(2026, 12, 2, 9, 0)  # a Wednesday morning
ANY = When.asap(NOW.date())


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute)


def one_day(day: int, **wish: object) -> When:
    return When(date(2026, 12, day), date(2026, 12, day), **wish)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("wish", "busy", "options", "starts"),
    [
        # two hours' notice, then different half-days: a real choice
        (ANY, [], {}, [at(2, 11), at(2, 13, 30)]),
        (ANY, [], {"spread": False}, [at(2, 11), at(2, 11, 30)]),
        (ANY, [(at(2, 10), at(2, 12))], {}, [at(2, 13, 30), at(3, 8, 30)]),
        # one half-day asked: two slots of it
        (one_day(3, part="morning"), [], {}, [at(3, 8, 30), at(3, 9)]),
        (one_day(3, part="afternoon", not_before=time(16)), [], {}, [at(3, 16), at(3, 16, 30)]),
        (one_day(3, not_after=time(12), not_before=time(11)), [], {}, [at(3, 11), at(3, 11, 30)]),
        # "à 14 h 30": the closest first, within half an hour
        (one_day(8, at=time(14, 30)), [], {}, [at(8, 14), at(8, 14, 30)]),
        (one_day(8, at=time(14, 30)), [(at(8, 13, 30), at(8, 17))], {}, []),
        # Saturday's hours, Sunday closed, a closure, a public holiday
        (one_day(5), [], {"limit": 3}, [at(5, 9), at(5, 9, 30), at(5, 10)]),
        (one_day(6), [], {}, []),
        (one_day(24), [], {}, []),
        (one_day(25), [], {}, []),
        # bookings that overlap each other: the long one hides the short ones' gaps
        (one_day(3, part="morning"), [(at(3, 8, 30), at(3, 11, 30)), (at(3, 9), at(3, 9, 30))], {},
         [at(3, 11, 30)]),
        # refused slots are not offered again
        (one_day(3, part="morning"), [], {"exclude": [Slot("c", at(3, 8, 30), at(3, 9))]},
         [at(3, 9), at(3, 9, 30)]),
        # the horizon bounds the search
        (When(date(2027, 6, 1), date(2027, 6, 30)), [], {}, []),
        (ANY, [], {"horizon_days": 1, "min_notice": timedelta(hours=8)}, []),
    ],
)
def test_free_slots(wish: When, busy: list[tuple[datetime, datetime]], options: dict[str, object],
                    starts: list[datetime]) -> None:
    slots = free_slots(SERVICE, 30, busy, wish, NOW, calendar="etat-civil", **options)  # type: ignore[arg-type]
    assert [s.start for s in slots] == starts
    assert all(s.calendar == "etat-civil" and s.end - s.start == timedelta(minutes=30) for s in slots)


def test_a_prebuilt_index_gives_the_same_slots() -> None:
    busy = [(at(2, 11), at(2, 11, 30)), (at(2, 13, 30), at(2, 14))]
    from_list = free_slots(SERVICE, 30, busy, ANY, NOW, calendar="c")
    assert free_slots(SERVICE, 30, BusyIndex.of(busy), ANY, NOW, calendar="c") == from_list


@pytest.mark.parametrize(
    ("start", "end", "overlaps"),
    [(at(3, 9), at(3, 9, 30), True), (at(3, 8, 30), at(3, 9), False),  # touching is free
     (at(3, 10), at(3, 10, 30), False), (at(3, 12), at(3, 12, 30), True), (at(3, 7), at(3, 8), False)],
)
def test_busy_index_overlaps(start: datetime, end: datetime, overlaps: bool) -> None:
    index = BusyIndex.of([(at(3, 11), at(3, 13)), (at(3, 9), at(3, 10))])
    assert index.overlaps(start, end) is overlaps


def slot(start: datetime) -> Slot:
    return Slot("etat-civil", start, start + timedelta(minutes=20))


@pytest.mark.parametrize(
    ("slots", "spoken"),
    [
        ([slot(at(9, 10, 30))], "mercredi 9 décembre à 10 h 30"),
        ([slot(at(3, 14))], "demain à 14 h"),
        ([slot(at(2, 16, 15))], "aujourd'hui à 16 h 15"),
        ([slot(at(1, 9, month=1).replace(year=2027))], "vendredi 1er janvier à 9 h"),
        ([slot(at(8, 10, 30)), slot(at(10, 14))],
         "mardi 8 décembre à 10 h 30, ou jeudi 10 décembre à 14 h"),
        ([slot(at(3, 10)), slot(at(3, 14))], "demain à 10 h, ou à 14 h"),
        ([slot(at(3, 10)), slot(at(4, 9)), slot(at(7, 9))],
         "demain à 10 h, vendredi 4 décembre à 9 h, ou lundi 7 décembre à 9 h"),
    ],
)
def test_slots_as_said(slots: list[Slot], spoken: str) -> None:
    assert say_slots(slots, NOW.date()) == spoken
    assert say_slot(slots[0], NOW.date()) in spoken


def test_a_written_slot_names_the_day_in_full() -> None:
    assert write_slot(slot(at(3, 10, 30))) == "jeudi 3 décembre à 10h30"


@pytest.mark.parametrize(
    ("name", "spoken"),
    [("Dupont", "D, U, P, O, N, T"), ("Le Goff", "L, E, espace, G, O, F, F"),
     ("Martin-Ba", "M, A, R, T, I, N, tiret, B, A")],
)
def test_spell_out(name: str, spoken: str) -> None:
    assert spell_out(name) == spoken


@pytest.mark.parametrize(
    ("heard", "letters"),
    [("D U P O N T", "DUPONT"), ("d, u, p, o, n, t", "DUPONT"), ("dé u pé o enne té", "DUPONT"),
     ("euh alors D comme Denise, U, deux L", "DULL"), ("L E espace G O F F", "LE GOFF"),
     ("M A R T I N tiret B A", "MARTIN-BA"), ("double vé a, i grec", "WAY"),
     ("Dupont", None), ("le goff", None), ("a", None), ("oui", None)],
)
def test_read_spelling(heard: str, letters: str | None) -> None:
    assert read_spelling(heard) == letters
    if letters:
        assert read_spelling(spell_out(letters)) == letters  # what the bot reads back, heard again
