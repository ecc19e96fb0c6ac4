"""FAQ editor pages: topics, edit + preview + save, new and deleted topics, callers'
sentences as questions, revisions and rollback. Services have their own pages
(``callbot.web.services_editor``)."""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
from aiohttp import web

from callbot.problems import DataError
from callbot.store import revisions
from callbot.web import kb_changes, services_editor
from callbot.web.auth import redirect, requires, session_of
from callbot.web.errand_fields import FORM_REFUSED, LINK, link_error
from callbot.web.faq import SaveOutcome, TopicView, problem_lines
from callbot.web.kb_text import EDITABLE_FIELDS
from callbot.web.keys import AUDIO_PREVIEW, EDITOR, ENGINE
from callbot.web.topic_text import TopicDraft, clean_questions


def _fields(form: object) -> dict[str, str]:
    """The topic's fields the form posts; a form without the ``link`` field (an older page,
    a script) leaves the link as it is."""
    return {key: str(form.get(key, "")) for key in EDITABLE_FIELDS  # type: ignore[attr-defined]
            if key != LINK or LINK in form}  # type: ignore[operator]


#: Revision ids are 32-bit database integers; a longer number cannot name one.
MAX_REVISION_ID = 2**31 - 1


def _revision_id(request: web.Request) -> int:
    number = request.match_info["id"]
    if not number.isascii() or len(number) > 10 or int(number) > MAX_REVISION_ID:
        raise web.HTTPNotFound(text="no such revision")
    return int(number)


def _examples(form: object) -> list[str]:
    return str(form.get("examples", "")).splitlines()  # type: ignore[attr-defined]


def _questions(form: object) -> list[str]:
    return str(form.get("questions", "")).splitlines()  # type: ignore[attr-defined]


@requires("editor")
@aiohttp_jinja2.template("topics.html")
async def topic_list(request: web.Request) -> dict:
    kb = await asyncio.to_thread(request.app[EDITOR].knowledge_base)
    search = request.query.get("q", "").strip().lower()
    topics = [t for t in kb.topics.values() if not search or search in
              f"{t.id} {t.label} {t.answer} {' '.join((*t.keywords, *t.questions))}".lower()]
    return {"topics": topics, "q": request.query.get("q", ""), "revision": kb.revision,
            "deleted": request.query.get("deleted", "")}


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
            "questions": str(form.get("questions", "")), "version": str(form.get("version", ""))}
    wrong_link = link_error(kept.get(LINK, ""))
    if wrong_link:
        outcome = SaveOutcome(False, FORM_REFUSED, field_errors={LINK: wrong_link})
        return _render(request, topic, outcome, kept, status=422)
    if form.get("action") == "preview":
        try:
            spoken = await asyncio.to_thread(editor.preview, topic.id, _fields(form))
        except DataError as exc:
            outcome = SaveOutcome(False, "Not valid yet:", problem_lines(exc))
            return _render(request, topic, outcome, kept, status=422)
        return _render(request, topic, form=kept, preview=spoken)
    questions = _questions(form) if topic.in_editor_file else None
    examples = _examples(form) if topic.has_examples else list(topic.editor_examples)
    outcome = await editor.save(session_of(request).user.username, topic.id, kept["version"],
                                _fields(form), examples, str(form.get("comment", "")),
                                questions)
    if outcome.ok:
        return redirect(f"/editor/{topic.id}?saved={outcome.revision_id}")
    return _render(request, await _topic(request), outcome, kept,
                   status=409 if outcome.conflict else 422)


def _render_new(request: web.Request, form: dict, services: list, outcome: SaveOutcome | None
                = None, status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template("topic_new.html", request, {
        "form": form, "services": services, "outcome": outcome})
    response.set_status(status)
    return response


def _services(kb: object) -> list[tuple[str, str]]:
    return [(s.id, s.name) for s in kb.services.values()]  # type: ignore[attr-defined]


@requires("editor")
async def new_topic_page(request: web.Request) -> web.Response:
    """The create form; ``?question=…`` (repeated) prefills it, from the inbox's groups."""
    kb = await asyncio.to_thread(request.app[EDITOR].knowledge_base)
    questions = clean_questions(request.query.getall("question", []))
    return _render_new(request, {"label": "", "service": kb.switchboard, "answer": "",
                                 "details": "", "questions": "\n".join(questions)},
                       _services(kb))


@requires("editor")
async def new_topic_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    editor = request.app[EDITOR]
    kept = {key: str(form.get(key, "")) for key in ("label", "service", "answer", "details",
                                                    "questions")}
    draft = TopicDraft(kept["label"], kept["service"], kept["answer"], kept["details"],
                       tuple(clean_questions(kept["questions"].splitlines())))
    topic_id, outcome = await kb_changes.create_topic(
        editor, session_of(request).user.username, draft, str(form.get("comment", "")))
    if outcome.ok:
        return redirect(f"/editor/{topic_id}?saved={outcome.revision_id}")
    kb = await asyncio.to_thread(editor.knowledge_base)
    return _render_new(request, kept, _services(kb), outcome,
                       status=409 if outcome.conflict else 422)


@requires("editor")
async def delete_topic(request: web.Request) -> web.StreamResponse:
    topic, form = await _topic(request), await request.post()
    outcome = await kb_changes.delete_topic(request.app[EDITOR],
                                            session_of(request).user.username, topic.id,
                                            str(form.get("version", "")))
    if outcome.ok:
        return redirect(f"/editor?deleted={topic.id}")
    return _render(request, topic, outcome, status=409 if outcome.conflict else 422)


@requires("editor")
async def add_questions(request: web.Request) -> web.StreamResponse:
    """The inbox's "add to topic X": a group's sentences as questions of the topic."""
    form = await request.post()
    topic_id = str(form.get("topic", ""))
    sentences = [str(t) for t in form.getall("text", [])]
    outcome = await kb_changes.add_questions(request.app[EDITOR],
                                             session_of(request).user.username, topic_id,
                                             sentences)
    if outcome.ok:
        return redirect(f"/editor/{topic_id}?saved={outcome.revision_id}")
    try:
        topic = await asyncio.to_thread(request.app[EDITOR].topic, topic_id)
    except KeyError as exc:
        raise web.HTTPBadRequest(text=outcome.message) from exc
    return _render(request, topic, outcome, status=422)


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
            web.post("/editor/questions", add_questions),
            web.get("/editor/new", new_topic_page), web.post("/editor/new", new_topic_post),
            *services_editor.routes(),
            web.get("/editor/{topic}", topic_page), web.post("/editor/{topic}", topic_post),
            web.post("/editor/{topic}/audio", audio_preview),
            web.post("/editor/{topic}/delete", delete_topic)]
