"""Conversation scenarios in YAML: caller turns and what the bot must do, run without audio.

```yaml
scenarios:
  - name: carte d'identité puis au revoir
    now: "2026-12-01T10:30"            # fixed clock (local time of the town)
    turns:
      - caller: je voudrais refaire ma carte d'identité
        expect: {intent: id_card_passport, action: answer, says: rendez-vous}
      - dtmf: "0"                      # or: silence: true / wait_sec: 700 (moves the clock)
        expect: {action: transfer, transfer: dtmf_zero}
```
``expect`` keys: ``intent``, ``action``, ``topic`` (knowledge-base entry), ``says`` (text or
list of texts the answer must contain, accents and case ignored), ``not_says``, ``transfer``.

Errands (appointments, SMS, messages) play against in-memory test doubles of the connectors
(``callbot/errands/memory.py``; the real CalDAV, SMPP and SMTP connectors are tested against
real servers in tests/test_errand_*.py), with the conversation's real errand runner:

```yaml
    caller: "+33612345678"             # the calling number: SMS go there, bookings found by it
    errands:                           # without this key the call has no connector at all
      calendar:                        # an in-memory calendar, with the caller's bookings
        - {calendar: etat-civil, start: "2026-12-10T08:30", minutes: 20, name: Dupont}
      sms: sent                        # or "down": every SMS fails
      mail: true                       # messages left at night are e-mailed
    after: {booked: ["etat-civil 2026-12-11T08:30 Dupont"], sms: 1, mails: 0}
```
``after`` is checked once the turns are played: what the calendar holds, SMS and e-mails sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from callbot.brain import Brain
from callbot.conversation.turn import BotTurn
from callbot.errands.connectors.factory import Connectors
from callbot.errands.memory import MemoryCalendar, MemoryMailer, MemorySms
from callbot.errands.ports import Booking, Slot
from callbot.errands.runner import ErrandRunner
from callbot.nlu.text import fold
from callbot.problems import DataError, Problem
from callbot.yaml_lines import LineDict, load_yaml

_EXPECT_KEYS = frozenset({"intent", "action", "topic", "says", "not_says", "transfer"})
_TURN_KEYS = frozenset({"caller", "dtmf", "silence", "wait_sec", "expect"})
_ERRAND_KEYS = frozenset({"calendar", "sms", "mail"})
_AFTER_KEYS = frozenset({"booked", "sms", "mails"})
_SMS_KINDS = frozenset({"sent", "down"})


@dataclass(frozen=True)
class Errands:
    """The connectors of a scenario's call: ``None`` for each one the town does not have."""

    calendar: tuple[Booking, ...] | None = None  # the bookings already in it
    sms: str | None = None  # "sent" or "down"
    mail: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    now: datetime
    turns: tuple[dict[str, Any], ...]
    source: str
    caller: str | None = None  # the calling number
    errands: Errands | None = None  # None: no connector, as in a town without any
    after: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScenarioResult:
    scenario: Scenario
    failures: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _scenario_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted([*path.glob("*.yml"), *path.glob("*.yaml")])


def load_scenarios(path: Path) -> list[Scenario]:
    """Read and check every scenario file; raise ``DataError`` listing all problems."""
    scenarios, problems = [], []
    files = _scenario_files(path)
    if not files:
        raise DataError([Problem(str(path), 0, "no scenario files found")])
    for file in files:
        try:
            document = load_yaml(file)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        items = document.get("scenarios") if isinstance(document, dict) else None
        if not isinstance(items, list):
            problems.append(Problem(str(file), 1, "expected a top-level 'scenarios:' list"))
            continue
        for item in items:
            scenario = _read_scenario(item, file, problems)
            if scenario:
                scenarios.append(scenario)
    if problems:
        raise DataError(problems)
    return scenarios


def _read_scenario(item: object, file: Path, problems: list[Problem]) -> Scenario | None:
    if not isinstance(item, LineDict) or not isinstance(item.get("turns"), list):
        problems.append(Problem(str(file), getattr(item, "line", 0), "a scenario needs 'turns:'"))
        return None
    try:
        now = datetime.fromisoformat(str(item.get("now", "2026-12-01T10:00")))
    except ValueError:
        problems.append(Problem(str(file), item.line_of("now"), "'now' must be like 2026-12-01T10:30"))
        return None
    for turn in item["turns"]:
        line = getattr(turn, "line", item.line)
        if not isinstance(turn, dict) or not _TURN_KEYS.issuperset(turn):
            problems.append(Problem(str(file), line, f"turn keys must be among {sorted(_TURN_KEYS)}"))
        elif not _EXPECT_KEYS.issuperset(turn.get("expect") or {}):
            problems.append(Problem(str(file), line, f"expect keys must be among {sorted(_EXPECT_KEYS)}"))
    after = item.get("after") or {}
    if not isinstance(after, dict) or not _AFTER_KEYS.issuperset(after):
        problems.append(Problem(str(file), item.line_of("after"),
                                f"after keys must be among {sorted(_AFTER_KEYS)}"))
    caller = str(item["caller"]) if item.get("caller") else None
    return Scenario(str(item.get("name", f"line {item.line}")), now, tuple(item["turns"]),
                    f"{file}:{item.line}", caller, _read_errands(item, caller, file, problems),
                    dict(after) if isinstance(after, dict) else {})


def _read_errands(item: LineDict, caller: str | None, file: Path,
                  problems: list[Problem]) -> Errands | None:
    spec = item.get("errands")
    if spec is None:
        return None
    line = item.line_of("errands")
    if not isinstance(spec, dict) or not _ERRAND_KEYS.issuperset(spec):
        problems.append(Problem(str(file), line, f"errands keys must be among {sorted(_ERRAND_KEYS)}"))
        return None
    if spec.get("sms") not in {None, *_SMS_KINDS}:
        problems.append(Problem(str(file), line, f"errands.sms must be one of {sorted(_SMS_KINDS)}"))
    bookings: list[Booking] = []
    for entry in spec.get("calendar") or ():
        try:
            start = datetime.fromisoformat(str(entry["start"]))
            end = start + timedelta(minutes=int(entry["minutes"]))
            bookings.append(Booking(Slot(str(entry["calendar"]), start, end), f"old-{start:%d%H%M}",
                                    str(entry["name"]), caller))
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(str(file), getattr(entry, "line", line), "a booking is "
                                    "{calendar, start: 2026-12-10T08:30, minutes, name}"))
    calendar = tuple(bookings) if "calendar" in spec else None
    return Errands(calendar, spec.get("sms"), bool(spec.get("mail")))


def _check(turn: BotTurn, expect: dict[str, Any]) -> list[str]:
    failures = []
    got = turn.to_json()
    for key, field_name in (("intent", "intent"), ("action", "action"), ("topic", "kb_entry"),
                            ("transfer", "transfer_reason")):
        value = str(got[field_name])
        if key == "topic" and "/" not in str(expect.get(key, "")):
            value = value.partition("/")[0]  # "topic: X" holds for any entry of X
        if key in expect and str(expect[key]) != value:
            failures.append(f"{key}: expected {expect[key]!r}, got {got[field_name]!r}")
    spoken = fold(turn.text)
    for wanted in _as_list(expect.get("says")):
        if fold(str(wanted)) not in spoken:
            failures.append(f"bot should say {wanted!r}: {turn.text!r}")
    for unwanted in _as_list(expect.get("not_says")):
        if fold(str(unwanted)) in spoken:
            failures.append(f"bot should not say {unwanted!r}: {turn.text!r}")
    return failures


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _connectors(errands: Errands) -> Connectors:
    calendar = MemoryCalendar(list(errands.calendar)) if errands.calendar is not None else None
    sms = MemorySms(refuse=errands.sms == "down") if errands.sms else None
    return Connectors(calendar, sms, MemoryMailer() if errands.mail else None)


def _check_after(after: dict[str, Any], connectors: Connectors) -> list[str]:
    failures = []
    if "booked" in after:
        bookings = getattr(connectors.calendar, "bookings", [])
        held = sorted(f"{b.slot.calendar} {b.slot.start:%Y-%m-%dT%H:%M} {b.name}" for b in bookings)
        if held != sorted(map(str, after["booked"])):
            failures.append(f"after: booked {after['booked']}, the calendar holds {held}")
    for key, sender in (("sms", connectors.sms), ("mails", connectors.mail)):
        sent = len(getattr(sender, "sent", []))
        if key in after and int(after[key]) != sent:
            failures.append(f"after: {after[key]} {key} expected, {sent} sent")
    return failures


def run_scenario(brain: Brain, scenario: Scenario) -> ScenarioResult:
    """Play one scenario against a fresh conversation with a controllable clock."""
    clock = {"now": scenario.now}
    conversation = brain.conversation(lambda: clock["now"])
    conversation.caller_id = scenario.caller
    connectors = _connectors(scenario.errands) if scenario.errands else Connectors()
    if scenario.errands:
        conversation.errands = ErrandRunner(connectors)
    conversation.start()
    result = ScenarioResult(scenario)
    for index, turn in enumerate(scenario.turns, start=1):
        clock["now"] += timedelta(seconds=float(turn.get("wait_sec", 0)))
        if conversation.ended:
            result.failures.append(f"turn {index}: the call had already ended")
            break
        if "caller" in turn:
            bot = conversation.hear(str(turn["caller"]))
        elif "dtmf" in turn:
            bot = conversation.dtmf(str(turn["dtmf"]))
        else:
            bot = conversation.silence()
        result.transcript.append(bot.to_json())
        result.failures.extend(f"turn {index}: {f}" for f in _check(bot, turn.get("expect") or {}))
        clock["now"] += timedelta(seconds=10)  # a turn takes time on the phone
    result.failures.extend(_check_after(scenario.after, connectors))
    return result
