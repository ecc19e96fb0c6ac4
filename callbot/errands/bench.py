"""``callbot bench booking``: slot search time on a year of bookings, turns and wall time of
a booking call.

Slot search and turns need no server: the calendar is a list of intervals in memory and the
turns come from the pure ``step`` with the effects carried out here, so those figures are the
code's own cost. The wall time is whole booking calls in text, from the request to the last
reply: the real NLU, policy, ``Conversation`` and ``ErrandRunner``, booking over CalDAV in a
real Radicale served from this process on the loopback (``radicale.server.serve``, in a
thread: the server's CPU is counted too). Radicale is a test dependency (``pip install
-e .[test]``); without it the calls book in the in-memory test double
(``callbot/errands/memory.py``) and ``booking_calendar`` says ``memory``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import TYPE_CHECKING

from callbot.config import Settings
from callbot.errands import booking as b
from callbot.errands.connectors.factory import Connectors
from callbot.errands.memory import MemoryCalendar
from callbot.errands.ports import Booking, Calendar, Slot
from callbot.errands.runner import ErrandRunner
from callbot.errands.slots import free_slots
from callbot.errands.when import parse_when
from callbot.kb.hours import hours_on
from callbot.kb.model import Appointments, Service, TimeRange
from callbot.nlu.evaluation import percentile
from callbot.ports import free_port

if TYPE_CHECKING:
    from callbot.brain import Brain

BUSY_INTERVALS = 25_000
SLOT_MINUTES = 20
_GRID_MINUTES = 10  # bookings start on a 10-minute grid: several agents share the calendar
_WEEKDAY = (TimeRange(clock(8, 30), clock(12)), TimeRange(clock(13, 30), clock(17, 30)))
SERVICE = Service("etat_civil", "le service état civil", "1 place de la République", "02 40 12 34 10",
                  hours=(_WEEKDAY,) * 5 + ((TimeRange(clock(9), clock(12)),), ()),
                  appointments=Appointments("etat-civil", SLOT_MINUTES))
NOW = datetime(2026, 12, 1, 9, 0)
_WISHES = ("le plus tôt possible", "la semaine prochaine le matin", "à 14 h 30", "jeudi",
           "en fin de matinée", "dans quinze jours après 16 heures")
# what callers say in a booking errand: the request, then one reply a turn
SCRIPTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("book", "je voudrais un rendez-vous le plus tôt possible",
     ("le premier", "Dupont", "oui", "non merci")),
    ("book", "je voudrais un rendez-vous",
     ("jeudi matin", "plutôt la semaine prochaine l'après-midi", "le deuxième", "je m'appelle Martin",
      "oui", "oui")),
    ("book", "un rendez-vous pour une carte d'identité",
     ("demain", "non aucun", "vendredi", "le premier", "L E espace G O F F", "oui", "non")),
    ("cancel", "je voudrais annuler mon rendez-vous", ("oui",)),
    ("move", "je voudrais déplacer mon rendez-vous", ("lundi", "le premier", "oui", "non merci")),
)


def synthetic_year(rng: random.Random, count: int = BUSY_INTERVALS) -> list[tuple[datetime, datetime]]:
    """``count`` booked intervals at random grid starts of the service's next 365 days."""
    starts = [moment for day in (NOW.date() + timedelta(days=n) for n in range(365))
              for moment in _grid(day)]
    length = timedelta(minutes=SLOT_MINUTES)
    return [(s, s + length) for s in (rng.choice(starts) for _ in range(count))]


def _grid(day: date) -> list[datetime]:
    step = timedelta(minutes=_GRID_MINUTES)
    moments = []
    for hours in hours_on(SERVICE, day).ranges:
        moment = datetime.combine(day, hours.start)
        while moment + timedelta(minutes=SLOT_MINUTES) <= datetime.combine(day, hours.end):
            moments.append(moment)
            moment += step
    return moments


def bench_slot_search(repeat: int = 30, seed: int = 1) -> dict[str, float]:
    """Milliseconds per ``free_slots`` on the raw (unsorted) list: the index is built each time."""
    rng = random.Random(seed)
    busy = synthetic_year(rng)
    rng.shuffle(busy)
    times_ms = []
    for text in _WISHES:
        wish = parse_when(text, NOW.date())
        assert wish is not None, text
        for _ in range(repeat):
            started = time.perf_counter()
            free_slots(SERVICE, SLOT_MINUTES, busy, wish, NOW, calendar="etat-civil")
            times_ms.append((time.perf_counter() - started) * 1000)
    return {"slot_search_ms_p50": round(percentile(times_ms, 0.5), 2),
            "slot_search_ms_p95": round(percentile(times_ms, 0.95), 2),
            "busy_intervals": len(busy)}


def _carry_out(decision: b.Decision, busy: list[tuple[datetime, datetime]],
               booked: list[Booking]) -> b.BookingState:
    """Do what the dialogue asks, as a calendar in memory would, until it waits for the caller."""
    state, _, effects = decision
    while effects:
        effect = effects.pop(0)
        event: b.Event | None = None
        match effect:
            case b.FindSlots():
                slots = free_slots(effect.service, effect.slot_minutes, busy, effect.when, NOW,
                                   calendar=effect.calendar, exclude=effect.exclude)
                event = b.SlotsFound(tuple(slots))
            case b.Book(slot=slot, name=name):
                booked.append(Booking(slot, f"uid-{len(booked)}", name))
                busy.append((slot.start, slot.end))
                event = b.Booked(booked[-1])
            case b.CancelBooking(booking=booking):
                booked.remove(booking)
                event = b.Cancelled()
            case b.FindBookings():
                event = b.BookingsFound(tuple(booked))
        if event is not None:
            state, _, more = b.step(state, event, NOW)
            effects += more
    return state


def dialogue_turns(goal: str, request: str, replies: tuple[str, ...]) -> int:
    """How many times the caller speaks, the request included, before the errand is done."""
    busy: list[tuple[datetime, datetime]] = []
    old = NOW + timedelta(days=2)
    booked = [Booking(Slot("etat-civil", old, old + timedelta(minutes=SLOT_MINUTES)), "uid-old", "Dupont")]
    starts = {"book": lambda: b.start(SERVICE, NOW, request), "cancel": lambda: b.start_cancel(SERVICE),
              "move": lambda: b.start_move(SERVICE)}
    state = _carry_out(starts[goal](), busy, booked)
    for reply in replies:
        state = _carry_out(b.step(state, b.CallerText(reply), NOW), busy, booked)
    if not state.finished:
        raise AssertionError(f"the scripted {goal} dialogue did not end: {state.step}")
    return 1 + len(replies)


# whole booking calls (the request names the topic, so the conversation opens the errand)
CALLS: tuple[tuple[str, ...], ...] = (
    ("je voudrais prendre rendez-vous pour refaire ma carte d'identité", "plutôt jeudi matin",
     "le premier", "Dupont", "oui", "non merci"),
    ("un rendez-vous pour mon passeport le plus tôt possible", "le premier", "je m'appelle Martin",
     "oui", "non merci"),
    ("je voudrais un rendez-vous pour une carte d'identité", "la semaine prochaine l'après-midi",
     "non aucun", "vendredi", "le deuxième", "Durand", "oui", "non"),
)
_BENCH_USER = "bench"


@contextmanager
def radicale_calendars(calendars: dict[str, str]) -> Iterator[Calendar | None]:
    """A CalDAV calendar in a Radicale served from this process (a thread), or ``None``
    when Radicale is not installed."""
    try:
        import radicale.config
        import radicale.server
    except ImportError:
        yield None
        return
    from callbot.errands.connectors.caldav_calendar import CalDavCalendar

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="callbot-bench-caldav-") as folder:
        configuration = radicale.config.load([])
        configuration.update({"server": {"hosts": f"127.0.0.1:{port}"},
                              "storage": {"filesystem_folder": str(Path(folder) / "collections")},
                              "auth": {"type": "none"}, "rights": {"type": "owner_only"},
                              "logging": {"level": "warning"}}, "bench", privileged=True)
        stop, stop_peer = socket.socketpair()
        server = threading.Thread(target=radicale.server.serve, args=(configuration, stop_peer),
                                  name="bench-radicale", daemon=True)
        logging.getLogger("radicale").setLevel(logging.ERROR)  # "auth type none (INSECURE)"
        server.start()
        try:
            yield CalDavCalendar(f"http://127.0.0.1:{port}/", _BENCH_USER, "any", 5.0, calendars)
        finally:
            stop.close()  # serve() returns when its end of the pair reads EOF
            server.join(5.0)
            stop_peer.close()


def bench_booking_calls(brain: Brain, dialogues: int = 9) -> dict[str, float | str]:
    """Median wall time of ``dialogues`` booking calls (``CALLS`` in turn, each a new caller)."""
    kb = brain.kb.refresh()
    calendars = {s.appointments.calendar: s.appointments.calendar
                 for s in kb.services.values() if s.appointments is not None}
    times_ms: list[float] = []
    with radicale_calendars(calendars) as served:
        calendar = served or MemoryCalendar()
        for index in range(dialogues):
            lines = CALLS[index % len(CALLS)]
            call = brain.conversation(lambda: NOW)
            call.caller_id = f"+336000000{index:02d}"
            call.errands = ErrandRunner(Connectors(calendar=calendar))
            call.start()
            started = time.perf_counter()
            said = [call.hear(line).text for line in lines]
            times_ms.append((time.perf_counter() - started) * 1000)
            if not any(text.startswith("C'est noté") for text in said):
                raise AssertionError(f"the booking call {index} did not book: {said}")
    return {"booking_call_ms_median": round(statistics.median(times_ms), 1),
            "booking_call_ms_max": round(max(times_ms), 1), "booking_calls": dialogues,
            "booking_calendar": "radicale" if served else "memory"}


def bench_booking(repeat: int = 30, brain: Brain | None = None,
                  dialogues: int = 9) -> dict[str, float | str]:
    figures: dict[str, float | str] = dict(bench_slot_search(repeat))
    figures["booking_turns_median"] = statistics.median(dialogue_turns(*script) for script in SCRIPTS)
    if brain is not None and dialogues > 0:
        figures.update(bench_booking_calls(brain, dialogues))
    return figures


def cmd_bench_booking(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.brain import Brain

    brain = Brain.load(settings) if args.calls > 0 else None
    print(json.dumps(bench_booking(args.repeat, brain, args.calls)))
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    booking = bench.add_parser("booking",
                               help="appointment slot search time, turns and time per booking call")
    booking.add_argument("--repeat", type=int, default=30, help="searches per wish (default 30)")
    booking.add_argument("--calls", type=int, default=9,
                         help="whole booking calls timed, through a CalDAV server (default 9; 0: none)")
    booking.set_defaults(func=cmd_bench_booking)
