"""The editor's errand fields: which services take appointments and how long a slot lasts,
where a service's messages go, which page a topic sends by SMS (issue 15, item 4).

Checked here with the knowledge base's own rules (``callbot.kb.loader``: a form that passes
here passes ``callbot kb validate``), each problem in the editor's words, in French, for the
page to show beside its field; then written as lines of the file that holds the service, the
town's other lines and comments kept.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from callbot.kb.loader import MAX_SLOT_MINUTES, MIN_SLOT_MINUTES, is_email, is_link
from callbot.kb.model import Appointments, Service
from callbot.web.kb_text import replace_key, set_fields

#: The form's names of the fields (``appointments`` is the check box).
APPOINTMENTS, CALENDAR, SLOT_MINUTES, MESSAGES_TO, LINK = (
    "appointments", "calendar", "slot_minutes", "messages_to", "link")
#: A hidden field of the service form: it carries these fields (an unticked box is not
#: posted, so without it a form of before, or a script, would remove the appointments).
CARRIED = "errand_fields"
DEFAULT_SLOT_MINUTES = 20
_CALENDAR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")

FORM_REFUSED = "Le formulaire a des erreurs, indiquées sous les champs ; rien n'a été enregistré."
NO_CALENDAR = ("Indiquez l'agenda où noter les rendez-vous : son identifiant dans les "
               "réglages, par exemple « etat-civil ».")
BAD_CALENDAR = ("« {typed} » ne peut pas être un identifiant d'agenda : des lettres sans "
                "accent, des chiffres et des tirets, par exemple « etat-civil ».")
UNKNOWN_CALENDAR = ("L'agenda « {typed} » n'est pas dans les réglages du robot "
                    "(errands.calendar.calendars) : choisissez parmi {known}.")
BAD_MINUTES = (f"« {{typed}} » n'est pas une durée de créneau : un nombre entier de minutes, "
               f"de {MIN_SLOT_MINUTES} à {MAX_SLOT_MINUTES}.")
BAD_EMAIL = "« {typed} » n'est pas une adresse e-mail (par exemple etat-civil@villebrune.fr)."
BAD_LINK = ("« {typed} » n'est pas une adresse web utilisable : elle commence par https:// "
            "et n'a pas d'espace (elle part telle quelle par SMS).")


@dataclass(frozen=True)
class ServiceErrands:
    """What the service form says about appointments and messages."""

    appointments: Appointments | None
    messages_to: str


def form_of(service: Service) -> dict[str, str]:
    """The fields as the form shows them for ``service``."""
    booked = service.appointments
    return {APPOINTMENTS: "on" if booked else "", CALENDAR: booked.calendar if booked else "",
            SLOT_MINUTES: str(booked.slot_minutes if booked else DEFAULT_SLOT_MINUTES),
            MESSAGES_TO: service.messages_to}


def parse_service_errands(form: Mapping[str, str], calendars: Collection[str] = ()
                          ) -> tuple[ServiceErrands | None, dict[str, str]]:
    """The fields, or a French message for each wrong one (field name → message); ``(None,
    {})`` when the form does not carry them (the service keeps its own).

    ``calendars``: the calendar ids of the settings; when there are some, the calendar must
    be one of them (with none configured, the bot books nothing yet: any id is kept)."""
    if CARRIED not in form:
        return None, {}
    errors: dict[str, str] = {}
    appointments = None
    if str(form.get(APPOINTMENTS, "")).strip():
        calendar = str(form.get(CALENDAR, "")).strip()
        typed = str(form.get(SLOT_MINUTES, "")).strip() or str(DEFAULT_SLOT_MINUTES)
        if not calendar:
            errors[CALENDAR] = NO_CALENDAR
        elif not _CALENDAR_ID.fullmatch(calendar):
            errors[CALENDAR] = BAD_CALENDAR.format(typed=calendar)
        elif calendars and calendar not in calendars:
            known = ", ".join(f"« {c} »" for c in sorted(calendars))
            errors[CALENDAR] = UNKNOWN_CALENDAR.format(typed=calendar, known=known)
        minutes = int(typed) if typed.isascii() and typed.isdigit() else 0
        if not MIN_SLOT_MINUTES <= minutes <= MAX_SLOT_MINUTES:
            errors[SLOT_MINUTES] = BAD_MINUTES.format(typed=typed)
        appointments = Appointments(calendar, minutes)
    address = str(form.get(MESSAGES_TO, "")).strip()
    if address and not is_email(address):
        errors[MESSAGES_TO] = BAD_EMAIL.format(typed=address)
    if errors:
        return None, errors
    return ServiceErrands(appointments, address), {}


def link_error(url: str) -> str | None:
    """The French message for a topic's link that cannot go by SMS; ``None`` when it can
    (or when there is none)."""
    url = url.strip()
    return BAD_LINK.format(typed=url) if url and not is_link(url) else None


def apply_service_errands(path: Path, text: str, service: Service,
                          wanted: ServiceErrands) -> str:
    """``text`` with the service's ``appointments`` and ``messages_to`` as ``wanted``;
    untouched where they do not change."""
    if wanted.appointments != service.appointments:
        booked = wanted.appointments
        lines = ["appointments:", f"  calendar: {booked.calendar}",
                 f"  slot_minutes: {booked.slot_minutes}"] if booked else []
        text = replace_key(path, text, "services", service.id, APPOINTMENTS, lines)
    if wanted.messages_to != service.messages_to:
        if wanted.messages_to:
            text = set_fields(path, text, "services", service.id,
                              {MESSAGES_TO: wanted.messages_to}, after="phone")
        else:
            text = replace_key(path, text, "services", service.id, MESSAGES_TO, [])
    return text
