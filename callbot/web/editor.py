"""FAQ editor pages: topics, edit + preview + save, revisions and rollback."""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
from aiohttp import web

from callbot.problems import DataError
from callbot.store import revisions
from callbot.web.auth import redirect, requires, session_of
from callbot.web.faq import SaveOutcome, TopicView
from callbot.web.kb_text import EDITABLE_FIELDS
from callbot.web.keys import AUDIO_PREVIEW, EDITOR, ENGINE


def _fields(form: object) -> dict[str, str]:
    return {key: str(form.get(key, "")) for key in EDITABLE_FIELDS}  # type: ignore[attr-defined]


#: Revision ids are 32-bit database integers; a longer number cannot name one.
MAX_REVISION_ID = 2**31 - 1


def _revision_id(request: web.Request) -> int:
    number = request.match_info["id"]
    if not number.isascii() or len(number) > 10 or int(number) > MAX_REVISION_ID:
        raise web.HTTPNotFound(text="no such revision")
    return int(number)


def _examples(form: object) -> list[str]:
    return str(form.get("examples", "")).splitlines()  # type: ignore[attr-defined]


@requires("editor")
@aiohttp_jinja2.template("topics.html")
async def topic_list(request: web.Request) -> dict:
    kb = await asyncio.to_thread(request.app[EDITOR].knowledge_base)
    search = request.query.get("q", "").strip().lower()
    topics = [t for t in kb.topics.values() if not search or search in
              f"{t.id} {t.label} {t.answer} {' '.join(t.keywords)}".lower()]
    return {"topics": topics, "q": request.query.get("q", ""), "revision": kb.revision}


async def _topic(request: web.Request) -> TopicView:
    try:
        return await asyncio.to_thread(request.app[EDITOR].topic, request.match_info["topic"])
    except KeyError as exc:
        raise web.HTTPNotFound(text="no such topic") from exc


def _render(request: web.Request, topic: TopicView, outcome: SaveOutcome | None = None,
            form: dict | None = None, preview: tuple[str, str] | None = None,
            status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template("topic.html", request, {
        "topic": topic, "outcome": outcome, "form": form, "preview": preview,
        "audio": request.app[AUDIO_PREVIEW] is not None})
    response.set_status(status)
    return response


@requires("editor")
async def topic_page(request: web.Request) -> web.Response:
    return _render(request, await _topic(request))


@requires("editor")
async def topic_post(request: web.Request) -> web.StreamResponse:
    """Preview or save, as the pressed button says; a refusal keeps the editor's text."""
    topic, form = await _topic(request), await request.post()
    editor = request.app[EDITOR]
    kept = {**_fields(form), "examples": str(form.get("examples", "")),
            "version": str(form.get("version", ""))}
    if form.get("action") == "preview":
        try:
            spoken = await asyncio.to_thread(editor.preview, topic.id, _fields(form))
        except DataError as exc:
            outcome = SaveOutcome(False, "Not valid yet:", tuple(
                f"line {p.line}: {p.message}" for p in exc.problems))
            return _render(request, topic, outcome, kept, status=422)
        return _render(request, topic, form=kept, preview=spoken)
    outcome = await editor.save(session_of(request).user.username, topic.id, kept["version"],
                                _fields(form), _examples(form), str(form.get("comment", "")))
    if outcome.ok:
        return redirect(f"/editor/{topic.id}?saved={outcome.revision_id}")
    return _render(request, await _topic(request), outcome, kept,
                   status=409 if outcome.conflict else 422)


@requires("editor")
async def audio_preview(request: web.Request) -> web.StreamResponse:
    synthesize = request.app[AUDIO_PREVIEW]
    if synthesize is None:
        raise web.HTTPNotImplemented(text="audio preview needs a Piper voice (callbot.speech)")
    form = await request.post()
    spoken, _ = await asyncio.to_thread(request.app[EDITOR].preview, request.match_info["topic"],
                                        _fields(form))
    return web.Response(body=await synthesize(spoken), content_type="audio/wav")


@requires("editor")
async def add_example(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    intent, text = str(form.get("intent", "")), str(form.get("text", "")).strip()
    editor = request.app[EDITOR]
    kb = await asyncio.to_thread(editor.knowledge_base)
    if intent not in kb.topics or not text:
        raise web.HTTPBadRequest(text="choose a topic and a sentence")
    outcome = await editor.add_example(session_of(request).user.username, intent, text)
    if not outcome.ok:
        return _render(request, await asyncio.to_thread(editor.topic, intent), outcome,
                       status=422)
    return redirect(f"/editor/{intent}?saved={outcome.revision_id}")


@requires("editor")
@aiohttp_jinja2.template("revisions.html")
async def revision_list(request: web.Request) -> dict:
    return {"revisions": await revisions.history(request.app[ENGINE])}


@requires("editor")
@aiohttp_jinja2.template("revision.html")
async def revision_page(request: web.Request) -> dict:
    found = await revisions.get(request.app[ENGINE], _revision_id(request))
    if found is None:
        raise web.HTTPNotFound(text="no such revision")
    return {"revision": found}


@requires("editor")
async def rollback(request: web.Request) -> web.StreamResponse:
    outcome = await request.app[EDITOR].rollback(session_of(request).user.username,
                                                 _revision_id(request))
    if not outcome.ok:
        raise web.HTTPUnprocessableEntity(text="\n".join([outcome.message, *outcome.problems]))
    return redirect(f"/editor/revisions/{outcome.revision_id}")


def routes() -> list[web.RouteDef]:
    return [web.get("/editor", topic_list), web.get("/editor/revisions", revision_list),
            web.get(r"/editor/revisions/{id:\d+}", revision_page),
            web.post(r"/editor/revisions/{id:\d+}/rollback", rollback),
            web.post("/editor/examples", add_example),
            web.get("/editor/{topic}", topic_page), web.post("/editor/{topic}", topic_post),
            web.post("/editor/{topic}/audio", audio_preview)]
