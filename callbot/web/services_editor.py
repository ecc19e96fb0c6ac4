"""Service pages of the editor: name, phone, address, hours by weekday, closures, whether
it takes appointments by phone (and the slot length), where its messages go.

What the bot says about opening hours comes from here, so the page shows, beside the
form, what it would answer right now ("c'est ouvert jusqu'à…").
"""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
from aiohttp import web

from callbot.kb.answers import answer_topic
from callbot.kb.model import WEEKDAYS_FR, KnowledgeBase, Service
from callbot.kb.slots import open_now_sentence
from callbot.web import errand_fields, kb_changes
from callbot.web.auth import redirect, requires, session_of
from callbot.web.faq import SaveOutcome
from callbot.web.keys import EDITOR
from callbot.web.service_text import HOURS_EXAMPLE, clock_text


def hours_text(service: Service, weekday: int) -> str:
    ranges = service.hours[weekday]
    if not ranges:
        return "fermé"
    return ", ".join(f"{clock_text(r.start)}-{clock_text(r.end)}" for r in ranges)


def _form_of(service: Service) -> dict:
    return {"name": service.name, "phone": service.phone, "address": service.address,
            "access": service.access, **errand_fields.form_of(service),
            **{f"hours_{d}": hours_text(service, i) for i, d in enumerate(WEEKDAYS_FR)}}


@requires("editor")
@aiohttp_jinja2.template("services.html")
async def service_list(request: web.Request) -> dict:
    editor = request.app[EDITOR]
    kb = await asyncio.to_thread(editor.current)
    now = editor.now()
    return {"services": [(s, open_now_sentence(s, now)) for s in kb.services.values()]}


async def _page(request: web.Request, service_id: str, outcome: SaveOutcome | None = None,
                form: dict | None = None, status: int = 200) -> web.Response:
    editor = request.app[EDITOR]
    kb: KnowledgeBase = await asyncio.to_thread(editor.current)  # a stat, not a load
    service = kb.services.get(service_id)
    if service is None:
        raise web.HTTPNotFound(text="no such service")
    files = await asyncio.to_thread(editor.files)
    where = kb_changes.service_file(files, service_id)
    now = editor.now()
    spoken = open_now_sentence(service, now)
    if service_id == kb.switchboard:
        spoken = answer_topic(kb, "opening_hours", now).text
    response = aiohttp_jinja2.render_template("service.html", request, {
        "service": service, "form": form or _form_of(service), "outcome": outcome,
        "weekdays": WEEKDAYS_FR, "version": kb_changes.service_version(kb, service_id),
        "file": editor.shown(str(where)) if where else "?",
        "spoken": spoken, "example": HOURS_EXAMPLE,
        "calendars": sorted(editor.settings.errands.calendar.calendars),
        "errors": outcome.field_errors if outcome else {}})
    response.set_status(status)
    return response


@requires("editor")
async def service_page(request: web.Request) -> web.Response:
    return await _page(request, request.match_info["service"])


@requires("editor")
async def service_post(request: web.Request) -> web.StreamResponse:
    service_id = request.match_info["service"]
    form = await request.post()
    outcome = await kb_changes.save_service(
        request.app[EDITOR], session_of(request).user.username, service_id,
        str(form.get("version", "")), form, str(form.get("comment", "")))
    if outcome.ok:
        return redirect(f"/editor/services/{service_id}?saved={outcome.revision_id}")
    kept = {key: str(value) for key, value in form.items()}
    return await _page(request, service_id, outcome, kept,
                       status=409 if outcome.conflict else 422)


def routes() -> list[web.RouteDef]:
    return [web.get("/editor/services", service_list),
            web.get("/editor/services/{service}", service_page),
            web.post("/editor/services/{service}", service_post)]
