"""« Nouvelle campagne »: a list uploaded (CSV, XLSX, ODS), checked, previewed, stored.

The list goes through the command line's importer (``callbot.campaigns.contacts_import``):
every row it leaves out is shown with its line and reason, the rest is stored. « Vérifier »
stores nothing; « Créer » stores nothing either when the file cannot be used (no phone column,
a field the message uses that the list has not, not a spreadsheet, no usable row). The
preview is the first person's opening, as the dialogue says it. The upload is written to a
temporary file (the sheet readers take a path) deleted at once; the audit names the campaign
and the counts, never a row.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import time
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from callbot.campaigns import wording
from callbot.campaigns.contacts_import import ContactList, contacts_of
from callbot.campaigns.phones import PhoneError, to_e164
from callbot.kb.town_data.sheets import SheetError, read_table
from callbot.privacy import load_key
from callbot.store.accounts import audit
from callbot.store.campaigns import CampaignRow, NewCampaign, Person, create_campaign
from callbot.web.auth import form_of, requires, session_of
from callbot.web.campaigns import KIND_WORDS, spoken_opening
from callbot.web.dashboard import _knowledge_base, local_now
from callbot.web.keys import ENGINE, SETTINGS

SUFFIXES = (".csv", ".xlsx", ".ods")
DEFAULTS = {"kind": "heatwave", "message": wording.HEATWAVE_MESSAGE, "window_start": "09:00",
            "window_end": "19:00", "name": "", "question": "", "callback": ""}


class Unusable(ValueError):
    """The form or the file cannot make a campaign; the message is for the agent."""


def _render(request: web.Request, form: dict, status: int = 200, **more: object) -> web.Response:
    response = aiohttp_jinja2.render_template("campaign_new.html", request, {
        "form": form, "kinds": KIND_WORDS, "error": "", "rejected": [], "preview": [],
        "created": None, **more})
    response.set_status(status)
    response.headers["Cache-Control"] = "no-store"  # the preview names a person of the list
    return response


@requires("campaigns")
async def new_page(request: web.Request) -> web.Response:
    return _render(request, dict(DEFAULTS))


def _spec(form: dict, town: str, username: str, source: str) -> NewCampaign:
    kind = form["kind"]
    if not town:
        raise Unusable("La base de connaissances ne se lit pas : le nom de la commune, dit au "
                       "début de chaque appel, manque (voir l'éditeur de FAQ).")
    if kind not in KIND_WORDS:
        raise Unusable("Choisissez le type de campagne.")
    if not form["name"].strip():
        raise Unusable("Donnez un nom à la campagne.")
    if not form["message"].strip():
        raise Unusable("Écrivez le message que le robot dira.")
    if kind == "question" and not form["question"].strip():
        raise Unusable("Une campagne « message et une question » a besoin de sa question.")
    try:
        callback = to_e164(form["callback"])
    except PhoneError as exc:
        raise Unusable(f"Numéro de rappel de la mairie : {exc}") from None
    try:
        start, end = (time.fromisoformat(form[k].strip().zfill(5)) for k in ("window_start", "window_end"))
    except ValueError:
        raise Unusable("Heures d'appel : écrivez-les comme 09:00 et 19:00.") from None
    if end <= start:
        raise Unusable("Heures d'appel : la fin doit venir après le début.")
    return NewCampaign(name=form["name"].strip(), kind=kind, town=town,  # type: ignore[arg-type]
                       message=form["message"].strip(), question=form["question"].strip(),
                       callback_number=callback, emergency=form.get("emergency") == "on",
                       window_start=f"{start:%H:%M}", window_end=f"{end:%H:%M}", source=source,
                       created_by=username)


def _read(upload: object, message: str) -> ContactList:
    """The uploaded list, through a temporary file with the upload's suffix."""
    filename = Path(getattr(upload, "filename", "") or "").name
    if not filename:
        raise Unusable("Choisissez le fichier de la liste (.csv, .xlsx ou .ods).")
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise Unusable(f"{filename} : la liste doit être un fichier .csv, .xlsx ou .ods.")
    content = upload.file.read()  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="callbot-campaign-") as folder:
        path = Path(folder) / f"list{suffix}"
        path.write_bytes(content)
        try:
            contacts = contacts_of(read_table(path), filename, wording.fields_of(message))
        except SheetError as exc:
            raise Unusable(f"{filename}, ligne {exc.line} : {exc}") from None
        except Exception as exc:  # a torn or foreign file (BadZipFile, XML errors…): user input
            raise Unusable(f"{filename} : illisible ({type(exc).__name__}: {str(exc)[:200]})") from None
    try:
        wording.check_fields(message, contacts.fields)
    except wording.MessageError as exc:
        raise Unusable(f"Le message : {exc}") from None
    return contacts


@requires("campaigns")
async def new_campaign(request: web.Request) -> web.Response:
    posted = await form_of(request)
    form = {k: str(posted.get(k, "")) for k in DEFAULTS} | {"emergency": str(posted.get("emergency", ""))}
    creating = posted.get("action") == "create"
    username = session_of(request).user.username
    kb = await _knowledge_base(request)
    try:
        contacts = await asyncio.to_thread(_read, posted.get("list"), form["message"])
        spec = _spec(form, kb.town if kb else "", username, contacts.source)
    except Unusable as exc:
        return _render(request, form, 400, error=str(exc))
    first = contacts.contacts[0] if contacts.contacts else None
    preview = spoken_opening(CampaignRow(**spec.__dict__), Person(0, first.name, first.phone, first.fields)) \
        if first else []
    report = {"rejected": contacts.rejected, "preview": preview, "kept": len(contacts.contacts),
              "rows": contacts.rows}
    if not creating:
        return _render(request, form, **report)
    if not contacts.contacts:
        return _render(request, form, 400, error="Aucune ligne utilisable : rien n'a été créé.",
                       **report)
    settings = request.app[SETTINGS]
    key = load_key(settings.store.pseudonym_key, settings.store.state_dir / "pseudonym.key")
    campaign_id = await create_campaign(request.app[ENGINE], spec, contacts.contacts,
                                        contacts.fields, key, local_now(request))
    await audit(request.app[ENGINE], username, "campaign.create", f"campaign {campaign_id}",
                f"{len(contacts.contacts)} people, {len(contacts.rejected)} row(s) left out")
    return _render(request, form, created=campaign_id, **report)


def routes() -> list[web.RouteDef]:
    return [web.get("/campaigns/new", new_page), web.post("/campaigns/new", new_campaign)]
