"""Slots in answers, filled at answer time: ``{hours_today:dechetterie}``, ``{phone:mairie}``…"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from callbot.kb.french import with_preposition
from callbot.kb.hours import (
    closing_time,
    format_day,
    format_moment,
    format_ranges,
    format_time,
    hours_on,
    is_open,
    next_opening,
)
from callbot.kb.model import KnowledgeBase, Service

SLOT_PATTERN = re.compile(r"\{(\w+)(?::(\w+))?\}")
_SERVICE_SLOTS = frozenset({"hours_today", "open_now", "phone", "address"})
_WASTE_SLOTS = frozenset({"next_collection"})
WASTE_NAMES = {
    "ordures_menageres": "des ordures ménagères",
    "recyclables": "des emballages recyclables",
    "dechets_verts": "des déchets verts",
    "verre": "du verre",
}


def check_slot(match: re.Match[str], services: set[str], waste_kinds: set[str]) -> str | None:
    """A problem with one slot of an answer, or ``None``."""
    name, argument = match.group(1), match.group(2)
    if name in _SERVICE_SLOTS:
        return None if argument in services else f"slot {match.group(0)}: unknown service"
    if name in _WASTE_SLOTS:
        return None if argument in waste_kinds else f"slot {match.group(0)}: unknown waste kind"
    return f"unknown slot {match.group(0)} (known: {', '.join(sorted(_SERVICE_SLOTS | _WASTE_SLOTS))})"


def hours_sentence(service: Service, day: date, now: datetime) -> str:
    """'Samedi 5 décembre, c'est ouvert à la déchetterie de 9h à 12h.'

    "C'est ouvert à …" agrees with any service name, masculine or feminine.
    """
    hours = hours_on(service, day)
    when = format_day(day, now.date()).capitalize()
    place = with_preposition("à", service.name)
    if hours.ranges:
        return f"{when}, c'est ouvert {place} {format_ranges(hours.ranges)}."
    sentence = f"{when}, c'est fermé {place}"
    sentence += f", {hours.closed_reason}." if hours.closed_reason else "."
    reopening = next_opening(service, datetime.combine(day, time.max))
    if reopening:
        sentence += f" Réouverture {format_moment(reopening, now)}."
    return sentence


def open_now_sentence(service: Service, now: datetime) -> str:
    place = with_preposition("à", service.name)
    if is_open(service, now):
        closes = closing_time(service, now)
        return f"En ce moment, c'est ouvert {place}, jusqu'à {format_time(closes)}."  # type: ignore[arg-type]
    reason = hours_on(service, now.date()).closed_reason
    sentence = f"En ce moment, c'est fermé {place}"
    sentence += f", {reason}." if reason else "."
    reopening = next_opening(service, now)
    if reopening:
        sentence += f" Réouverture {format_moment(reopening, now)}."
    return sentence


def next_collection_sentence(kb: KnowledgeBase, kind: str, now: datetime) -> str:
    days = kb.waste.get(kind, ())
    label = WASTE_NAMES.get(kind, kind.replace("_", " "))
    for offset in range(1, 8):
        day = now + timedelta(days=offset)
        if day.weekday() in days:
            return f"la prochaine collecte {label} a lieu {format_day(day.date(), now.date())}"
    return f"il n'y a pas de collecte {label} prévue"


def fill_slots(text: str, kb: KnowledgeBase, now: datetime) -> str:
    """Replace every slot by its value at ``now`` (validation guarantees they are known)."""

    def value(match: re.Match[str]) -> str:
        name, argument = match.group(1), match.group(2) or ""
        if name == "next_collection":
            return next_collection_sentence(kb, argument, now)
        service = kb.services[argument]
        if name == "phone":
            return service.phone
        if name == "address":
            return service.address
        if name == "open_now":
            return open_now_sentence(service, now).rstrip(".")
        return hours_sentence(service, now.date(), now).rstrip(".")

    return SLOT_PATTERN.sub(value, text)
