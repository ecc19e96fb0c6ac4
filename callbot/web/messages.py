"""The « Messages et rappels » page: what callers left while a department was closed.

The list shows the callback number, personal data, so it is for logged-in users only and is
not cached by the browser; ticking one off is audited (who, which message, never the number).
A message's audio, kept only when recording is on, is played from the list; each listening
is audited too.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from callbot.kb.model import KnowledgeBase
from callbot.store.accounts import audit
from callbot.store.message_audio import audio_dir, audio_path
from callbot.store.messages import mark_done, open_messages
from callbot.web.auth import redirect, requires, session_of
from callbot.web.dashboard import _knowledge_base, local_now
from callbot.web.keys import ENGINE, SETTINGS

#: Largest id the ``messages.id`` column holds (PostgreSQL ``integer``); beyond: no such message.
MAX_MESSAGE_ID = 2**31 - 1


def service_names(kb: KnowledgeBase | None) -> dict[str, str]:
    """Service id → its French name with a capital, as a table cell shows it ("L'état civil");
    a service removed since keeps its code name (the template falls back to it)."""
    if kb is None:
        return {}
    return {s.id: s.name[:1].upper() + s.name[1:] for s in kb.services.values()}


@requires("ops")
async def messages_page(request: web.Request) -> web.Response:
    rows = await open_messages(request.app[ENGINE])
    response = aiohttp_jinja2.render_template("messages.html", request, {
        "rows": rows, "open_count": sum(not m.done for m in rows),
        "services": service_names(await _knowledge_base(request)),
        "with_audio": _with_audio(request)})
    response.headers["Cache-Control"] = "no-store"  # callback numbers: not left on disk
    return response


@requires("ops")
async def message_done(request: web.Request) -> web.StreamResponse:
    message_id = int(request.match_info["message_id"])
    if message_id > MAX_MESSAGE_ID:
        raise web.HTTPNotFound(text="no such message")
    engine, username = request.app[ENGINE], session_of(request).user.username
    # False: no such message, or another agent ticked it first; the list shows which
    if await mark_done(engine, message_id, username, local_now(request)):
        await audit(engine, username, "message.done", f"message {message_id}")
    return redirect("/messages")


def _with_audio(request: web.Request) -> set[int]:
    """The messages whose audio is on disk (the purge keeps it within its period)."""
    directory = audio_dir(request.app[SETTINGS].store)
    if not directory.is_dir():
        return set()
    return {int(p.stem) for p in directory.glob("*.wav") if p.stem.isdigit()}


@requires("ops")
async def message_audio(request: web.Request) -> web.StreamResponse:
    message_id = int(request.match_info["message_id"])
    path = audio_path(request.app[SETTINGS].store, message_id)
    if message_id > MAX_MESSAGE_ID or not path.is_file():
        raise web.HTTPNotFound(text="no audio for this message (recording off, or purged)")
    await audit(request.app[ENGINE], session_of(request).user.username, "message.listen",
                f"message {message_id}")
    return web.FileResponse(path, headers={"Cache-Control": "no-store",
                                           "Content-Type": "audio/wav"})


def routes() -> list[web.RouteDef]:
    return [web.get("/messages", messages_page),
            web.get(r"/messages/{message_id:\d{1,10}}/audio", message_audio),
            web.post(r"/messages/{message_id:\d{1,10}}/done", message_done)]
