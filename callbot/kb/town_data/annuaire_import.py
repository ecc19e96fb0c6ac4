"""Annuaire records → a topic file: one service per record and its hours/address topic.

Ids come from the names ("Médiathèque Jules Verne - Villebrune" → ``mediatheque_jules_verne``,
a sigle wins: "… (CCAS)" → ``ccas``), spoken names get their article, hours become
"8h30-12h, 13h30-17h30" per weekday ("fermé" otherwise), phones "02 40 12 34 00". A record
that cannot make a valid service is left out with the reason; so is one whose id is already a
service of another file (the knowledge base refuses a service defined twice).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from callbot.kb.french import with_preposition
from callbot.kb.hours import parse_hours
from callbot.kb.model import WEEKDAYS_FR
from callbot.kb.speakable import unspeakable
from callbot.kb.town_data.annuaire_format import AnnuaireRecord, RecordError, parse_record
from callbot.kb.town_data.checking import Context
from callbot.kb.town_data.names import (
    capitalise,
    make_id,
    short_name,
    sigle_of,
    strip_article,
    with_article,
)
from callbot.kb.town_data.topic_file import Question, ServiceDraft, TopicDraft, TopicFile
from callbot.nlu.text import features_text

#: Ids written by ``callbot kb export annuaire``: importing them keeps the service's id.
CALLBOT_ID_PREFIX = "callbot:"
TOPIC_SUFFIX = "_hours_address"
MIN_QUESTIONS = 3
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")
_SERVICE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_ARTICLE_START = re.compile(r"^(le|la|les|l')\b", re.IGNORECASE)


def format_phone(raw: str) -> str:
    """'0240123400', '+33 2 40 12 34 00' → '02 40 12 34 00'; short national numbers as given."""
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+33") and len(digits) == 11:
        digits = "0" + digits[2:]
    if len(digits) == 10 and digits.startswith("0"):
        return " ".join(digits[i:i + 2] for i in range(0, 10, 2))
    if not digits:
        raise RecordError(f"phone '{raw}' has no digits")
    return " ".join(raw.split())


def _clock(value: str) -> str:
    match = _TIME.match(value.strip())
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise RecordError(f"'{value}' is not a time (expected like 08:30:00)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    return f"{hours}h{minutes:02d}" if minutes else f"{hours}h"


def hours_by_day(record: AnnuaireRecord) -> dict[str, str]:
    """Weekday → '8h30-12h, 13h30-17h30' or 'fermé'; checked with the loader's own parser."""
    if not record.opening:
        raise RecordError("no opening hours ('plage_ouverture' is empty)")
    ranges: dict[int, list[tuple[str, str]]] = {d: [] for d in range(7)}
    for span in record.opening:
        for day in range(span.first_day, span.last_day + 1):
            ranges[day] += [(_clock(a), _clock(b)) for a, b in span.ranges]
    hours = {}
    for day, name in enumerate(WEEKDAYS_FR):
        text = ", ".join(f"{a}-{b}" for a, b in ranges[day]) or "fermé"
        try:
            parse_hours(text)
        except ValueError as exc:
            raise RecordError(f"{name}: {exc}") from None
        hours[name] = text
    return hours


def address_of(street: dict[str, str]) -> str:
    """'Maison des solidarités, 8 rue Aristide Briand, 44350 Villebrune'."""
    town = " ".join(p for p in (street.get("code_postal", ""), street.get("nom_commune", "")) if p)
    parts = [street.get("complement1", ""), street.get("complement2", ""),
             street.get("numero_voie", ""), town]
    if not street.get("numero_voie"):
        raise RecordError("no street address ('adresse' has no 'numero_voie')")
    return ", ".join(p for p in parts if p)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else f"{text}."


def access_of(record: AnnuaireRecord) -> str:
    """What the annuaire says about getting in: accessibility note, hours comments."""
    parts = [record.street.get("note_accessibilite", "")]
    parts += [span.comment for span in record.opening] + [record.opening_comment]
    seen: list[str] = []
    for part in (_sentence(capitalise(p)) for p in parts if p):
        if part not in seen:
            seen.append(part)
    return " ".join(seen)


def _without_town(name: str, towns: set[str]) -> str:
    """'Mairie - Villebrune' → 'Mairie'; 'CCAS de Villebrune' → 'CCAS'."""
    for town in sorted(towns, key=len, reverse=True):
        cut = re.sub(rf"\s*(?:[-–]\s*|\bde\s+|\bd')\s*{re.escape(town)}\s*$", "", name,
                     flags=re.IGNORECASE)
        if cut and cut != name:
            return cut
    return name


def names_of(record: AnnuaireRecord, towns: set[str]) -> tuple[str, str]:
    """(service id, spoken name with article)."""
    base = _without_town(record.name, towns | {record.street.get("nom_commune", "")} - {""})
    if record.id.startswith(CALLBOT_ID_PREFIX):
        wanted = record.id[len(CALLBOT_ID_PREFIX):]
        if not _SERVICE_ID.match(wanted):
            raise RecordError(f"'{record.id}' does not end with a service id (like callbot:mairie)")
    else:
        wanted = ""
    if _ARTICLE_START.match(base):
        spoken = base[:1].lower() + base[1:]
        return wanted or make_id(strip_article(base)), spoken
    sigle = sigle_of(base, record.sigle)
    if sigle:
        return wanted or make_id(sigle), with_article(sigle, gender_of=base)
    return wanted or make_id(base), with_article(base)


def service_of(record: AnnuaireRecord, source: int, towns: set[str]) -> ServiceDraft:
    service_id, spoken = names_of(record, towns)
    phone = next((p for p in record.phones if p), "")
    if not phone:
        raise RecordError("no phone number ('telephone' is empty)")
    return ServiceDraft(service_id, spoken, address_of(record.street), format_phone(phone),
                        hours_by_day(record), source, access_of(record))


def questions_for(name: str) -> list[str]:
    """Ways a caller asks for a place's hours, address or phone, as recognition writes them."""
    of, at = with_preposition("de", name), with_preposition("à", name)
    asked = [f"quels sont les horaires {of}", f"à quelle heure ouvre {name}",
             f"est-ce que c'est ouvert {at} en ce moment", f"où se trouve {name}",
             f"quelle est l'adresse {of}", f"le numéro {of}",
             f"comment joindre {name} par téléphone"]
    short = short_name(name)
    if short:
        asked += [f"quels sont les horaires {with_preposition('de', short)}",
                  f"où se trouve {short}", f"le numéro {with_preposition('de', short)}"]
    return asked


def topic_of(service: ServiceDraft) -> TopicDraft:
    sid, name = service.id, service.name
    answer = (f"{{open_now:{sid}}}. {capitalise(name)} se trouve à l'adresse suivante : "
              f"{{address:{sid}}}, et son numéro de téléphone est le {{phone:{sid}}}.")
    questions = [Question(q, service.source) for q in questions_for(name)]
    return TopicDraft(f"{sid}{TOPIC_SUFFIX}", f"les horaires et l'adresse {with_preposition('de', name)}",
                      sid, answer, service.access, day_hours=True, questions=questions,
                      sources={service.source})


@dataclass
class AnnuaireImport:
    services: list[ServiceDraft]
    topics: list[TopicDraft]
    rejected: dict[int, str]  # record number (1-based) → why it was left out
    notes: list[str]  # what was adjusted but kept

    def build(self, header: str) -> Callable[[dict[int, str]], TopicFile]:
        def document(rejected: dict[int, str]) -> TopicFile:
            return TopicFile(header, [s for s in self.services if s.source not in rejected],
                             [t for t in self.topics if not t.all_sources & set(rejected)])
        return document


def read_records(raw_records: list[object], ctx: Context) -> AnnuaireImport:
    towns = {ctx.kb.town}
    result = AnnuaireImport([], [], {}, [])
    ids: dict[str, int] = {}
    asked = dict(ctx.asked)
    for number, raw in enumerate(raw_records, start=1):
        try:
            record = parse_record(raw)
            service = service_of(record, number, towns)
        except RecordError as exc:
            result.rejected[number] = str(exc)
            continue
        if service.id in ids:
            result.rejected[number] = f"service id '{service.id}' is also the id of record {ids[service.id]}"
            continue
        if service.id in ctx.kb.services:
            result.rejected[number] = (f"service '{service.id}' is already defined in the knowledge "
                                       "base; remove it there to take the annuaire's")
            continue
        if service.access and unspeakable(service.access):
            result.notes.append(f"record {number}: access note left out: {unspeakable(service.access)}")
            service.access = ""
        ids[service.id] = number
        result.services.append(service)
        topic = topic_of(service)
        if topic.id in ctx.kb.topics:
            result.notes.append(f"record {number}: topic '{topic.id}' already exists in "
                                f"{ctx.where(topic.id)}; no hours/address topic generated")
            continue
        kept = []
        for question in topic.questions:
            key = features_text(question.text)
            if key not in asked:
                asked[key] = topic.id
                kept.append(question)
        if len(kept) < MIN_QUESTIONS:
            result.notes.append(f"record {number}: its questions are already asked elsewhere; "
                                "no hours/address topic generated")
            continue
        topic.questions = kept
        result.topics.append(topic)
    return result
