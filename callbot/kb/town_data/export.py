"""The loaded knowledge base back to an FAQ table or to annuaire records.

What goes out comes back the same through ``callbot kb import``: topics with their label,
service, kind, answer, details, questions and entries (one row per question, the entry's id in
the ``point`` column); services with name, address, phone, weekly hours and access note, under
``id: "callbot:<service id>"`` so that importing them keeps their ids. Not exported: keywords,
``day_hours`` (annuaire topics get it back), closures (the annuaire has no such field).
"""

from __future__ import annotations

import re
from pathlib import Path

from callbot.kb.model import KnowledgeBase, Service, Topic, TopicKind
from callbot.kb.town_data.annuaire_format import AnnuaireRecord, OpeningSpan
from callbot.kb.town_data.annuaire_import import CALLBOT_ID_PREFIX
from callbot.kb.town_data.names import capitalise

FAQ_HEADER = ["thème", "libellé", "service", "question", "réponse", "détails", "point", "type"]
_POSTCODE_TOWN = re.compile(r"^(\d{5})\s+(.+)$")


def faq_rows(kb: KnowledgeBase, only: Path | None = None) -> list[list[str]]:
    """One row per question; a topic without questions gets one row with an empty question,
    so that the sheet shows it (importing that row reports it)."""
    rows = []
    for topic in kb.topics.values():
        if only is not None and Path(topic.source).resolve() != only.resolve():
            continue
        rows += _topic_rows(topic)
    return rows


def _topic_rows(topic: Topic) -> list[list[str]]:
    kind = "redirect" if topic.kind == TopicKind.REDIRECT else ""

    def row(question: str, answer: str, details: str, entry: str = "") -> list[str]:
        return [topic.id, topic.label, topic.service, question, answer, details, entry, kind]

    rows = [row(q, topic.answer, topic.details) for q in topic.questions or ("",)]
    for entry in topic.entries:
        rows += [row(q, entry.answer, entry.details, entry.id) for q in entry.questions]
    return rows


def _clock(value: object) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:00"  # type: ignore[attr-defined]


def opening_spans(service: Service) -> tuple[OpeningSpan, ...]:
    """Consecutive days with the same hours make one span, as the annuaire writes them; a day
    with more than two ranges takes a second span (the annuaire allows two per span)."""
    spans: list[OpeningSpan] = []
    day = 0
    while day < 7:
        ranges = service.hours[day]
        last = day
        while last + 1 < 7 and service.hours[last + 1] == ranges:
            last += 1
        pairs = [(_clock(r.start), _clock(r.end)) for r in ranges]
        for chunk in range(0, len(pairs), 2):
            spans.append(OpeningSpan(day, last, tuple(pairs[chunk:chunk + 2])))
        day = last + 1
    return tuple(spans)


def _street(address: str, access: str) -> dict[str, str]:
    parts = [p.strip() for p in address.split(",")]
    street = {"note_accessibilite": access}
    match = _POSTCODE_TOWN.match(parts[-1]) if len(parts) >= 2 else None
    if match:
        street.update(code_postal=match.group(1), nom_commune=match.group(2))
        parts = parts[:-1]
    street["numero_voie"] = parts[-1]
    if len(parts) > 1:
        street["complement1"] = ", ".join(parts[:-1])
    return street


def annuaire_record(service: Service, town: str) -> AnnuaireRecord:
    street = _street(service.address, service.access)
    place = street.get("nom_commune") or town
    return AnnuaireRecord(
        id=f"{CALLBOT_ID_PREFIX}{service.id}",
        name=f"{capitalise(service.name)} - {place}",
        street=street,
        phones=(service.phone,),
        opening=opening_spans(service),
    )


def annuaire_records(kb: KnowledgeBase) -> list[AnnuaireRecord]:
    return [annuaire_record(s, kb.town) for s in kb.services.values()]


