"""The service-public.fr "Annuaire de l'administration" records, read and written.

The shape follows the data.gouv.fr dataset "Service-public.fr - Annuaire de l'administration -
Base de données locales" (DILA, JSON since July 2022; field list in its
"Specifications-datagouv-base-de-donnees-locales-Service-public" PDF), as seen in published
records and in the test fixtures of projects that read it: a top-level ``{"service": [...]}``
whose records carry ``id`` (a UUID), ``nom`` ("Mairie - Sandillon"), ``sigle``, ``pivot``
(``[{"type_service_local": "mairie", "code_insee_commune": ["45300"]}]``), ``adresse``
(list of ``{"type_adresse": "Adresse" | "Adresse postale", "complement1", "complement2",
"numero_voie", "service_distribution", "code_postal", "nom_commune", "pays", "longitude",
"latitude", "accessibilite", "note_accessibilite"}``), ``telephone`` (``[{"valeur",
"description"}]``), ``adresse_courriel`` (list of strings), ``site_internet`` (``[{"libelle",
"valeur"}]``), ``plage_ouverture`` (``[{"nom_jour_debut": "Lundi", "nom_jour_fin":
"Vendredi", "valeur_heure_debut_1": "09:00:00", "valeur_heure_fin_1": "12:00:00",
"valeur_heure_debut_2", "valeur_heure_fin_2", "commentaire"}]``) and
``commentaire_plage_ouverture``. The API (api-lannuaire.service-public.gouv.fr) returns the
same records with the list fields encoded as JSON strings, in ``{"results": [...]}`` or a bare
list: all three are read. Pure functions, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from callbot.kb.model import WEEKDAYS_FR

#: ``type_adresse`` of the street address (the other one is "Adresse postale").
STREET_ADDRESS = "Adresse"
COPYRIGHT = "Direction de l'information légale et administrative (Première ministre)"


class RecordError(ValueError):
    """A record that cannot be used; the message says why."""


@dataclass(frozen=True)
class OpeningSpan:
    first_day: int  # 0 = lundi
    last_day: int
    ranges: tuple[tuple[str, str], ...]  # ("09:00:00", "12:00:00"), at most two
    comment: str = ""


@dataclass(frozen=True)
class AnnuaireRecord:
    id: str
    name: str
    sigle: str = ""
    kinds: tuple[str, ...] = ()  # pivot type_service_local
    insee: str = ""
    street: dict[str, str] = field(default_factory=dict)  # the "Adresse" entry
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    websites: tuple[str, ...] = ()
    opening: tuple[OpeningSpan, ...] = ()
    opening_comment: str = ""


def records_of(document: object) -> list[object]:
    """The list of records of a parsed file: ``{"service": [...]}``, ``{"results": [...]}``
    or a bare list. Raises ``RecordError`` for anything else."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("service", "results"):
            if isinstance(document.get(key), list):
                return document[key]
    raise RecordError("expected {\"service\": [...]} (the data.gouv.fr file) or a list of records")


def _listed(record: dict, key: str) -> list:
    value = record.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise RecordError(f"'{key}' is neither a list nor JSON text") from exc
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"'{key}' must be a list")
    return value


def _text(value: object) -> str:
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""


def _weekday(name: object) -> int:
    folded = _text(name).lower()
    if folded not in WEEKDAYS_FR:
        raise RecordError(f"'{_text(name)}' is not a day name (Lundi…Dimanche)")
    return WEEKDAYS_FR.index(folded)


def _span(item: object) -> OpeningSpan:
    if not isinstance(item, dict):
        raise RecordError("each 'plage_ouverture' must be an object")
    first = _weekday(item.get("nom_jour_debut"))
    last = _weekday(item.get("nom_jour_fin") or item.get("nom_jour_debut"))
    if last < first:
        raise RecordError(f"opening span from {WEEKDAYS_FR[first]} to {WEEKDAYS_FR[last]} "
                          "runs backwards")
    ranges = []
    for n in (1, 2):
        start = _text(item.get(f"valeur_heure_debut_{n}"))
        end = _text(item.get(f"valeur_heure_fin_{n}"))
        if bool(start) != bool(end):
            raise RecordError(f"{WEEKDAYS_FR[first]}: range {n} has a start or an end, not both")
        if start:
            ranges.append((start, end))
    return OpeningSpan(first, last, tuple(ranges), _text(item.get("commentaire")))


def parse_record(raw: object) -> AnnuaireRecord:
    """One record; raises ``RecordError`` saying what is wrong."""
    if not isinstance(raw, dict):
        raise RecordError("a record must be a JSON object")
    name = _text(raw.get("nom"))
    if not name:
        raise RecordError("'nom' is empty")
    streets = [a for a in _listed(raw, "adresse") if isinstance(a, dict)]
    street = next((a for a in streets if a.get("type_adresse") == STREET_ADDRESS),
                  streets[0] if streets else {})
    return AnnuaireRecord(
        id=_text(raw.get("id")),
        name=name,
        sigle=_text(raw.get("sigle")),
        kinds=tuple(_text(p.get("type_service_local")) for p in _listed(raw, "pivot")
                    if isinstance(p, dict)),
        insee=_text(raw.get("code_insee_commune")),
        street={k: _text(v) for k, v in street.items()},
        phones=tuple(_text(p.get("valeur") if isinstance(p, dict) else p)
                     for p in _listed(raw, "telephone")),
        emails=tuple(_text(e) for e in _listed(raw, "adresse_courriel")),
        websites=tuple(_text(s.get("valeur") if isinstance(s, dict) else s)
                       for s in _listed(raw, "site_internet")),
        opening=tuple(_span(item) for item in _listed(raw, "plage_ouverture")),
        opening_comment=_text(raw.get("commentaire_plage_ouverture")),
    )


def _plage(span: OpeningSpan) -> dict[str, str]:
    plage = {"nom_jour_debut": WEEKDAYS_FR[span.first_day].capitalize(),
             "nom_jour_fin": WEEKDAYS_FR[span.last_day].capitalize()}
    for n in (1, 2):
        start, end = span.ranges[n - 1] if len(span.ranges) >= n else ("", "")
        plage[f"valeur_heure_debut_{n}"], plage[f"valeur_heure_fin_{n}"] = start, end
    plage["commentaire"] = span.comment
    return plage


def record_json(record: AnnuaireRecord) -> dict[str, object]:
    """The record in the data.gouv.fr shape (lists as lists, as in the downloadable file)."""
    street = {"type_adresse": STREET_ADDRESS, "complement1": "", "complement2": "",
              "numero_voie": "", "service_distribution": "", "code_postal": "",
              "nom_commune": "", "pays": "", "continent": "", "longitude": "", "latitude": "",
              "accessibilite": "", "note_accessibilite": "", **record.street}
    return {
        "id": record.id,
        "nom": record.name,
        "sigle": record.sigle,
        "categorie": "SL",
        "pivot": [{"type_service_local": kind, "code_insee_commune": [record.insee]}
                  for kind in record.kinds],
        "code_insee_commune": record.insee,
        "adresse": [street],
        "telephone": [{"valeur": phone, "description": ""} for phone in record.phones],
        "adresse_courriel": list(record.emails),
        "site_internet": [{"libelle": "", "valeur": site} for site in record.websites],
        "plage_ouverture": [_plage(span) for span in record.opening],
        "commentaire_plage_ouverture": record.opening_comment,
        "copyright": COPYRIGHT,
        "statut_de_diffusion": "true",
    }
