"""Admin pages: accounts (add, disable, reset a password) and the audit log."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from callbot.store.accounts import (
    ROLES,
    AccountError,
    add_user,
    audit,
    list_users,
    recent_audit,
    set_active,
    set_password,
)
from callbot.web.auth import redirect, requires, session_of
from callbot.web.keys import ENGINE


async def _page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    engine = request.app[ENGINE]
    response = aiohttp_jinja2.render_template("users.html", request, {
        "users": await list_users(engine), "roles": ROLES, "error": error,
        "audit": await recent_audit(engine, 50)})
    response.set_status(status)
    return response


@requires("admin")
async def users_page(request: web.Request) -> web.Response:
    return await _page(request)


@requires("admin")
async def users_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    engine, me = request.app[ENGINE], session_of(request).user.username
    action, username = str(form.get("action", "")), str(form.get("username", "")).strip()
    try:
        if action == "add":
            await add_user(engine, username, str(form.get("password", "")),
                           str(form.get("role", "")))
        elif action == "passwd":
            await set_password(engine, username, str(form.get("password", "")))
        elif action in ("disable", "enable"):
            if username == me:
                raise AccountError("you cannot disable your own account")
            await set_active(engine, username, action == "enable")
        else:
            raise AccountError(f"unknown action {action!r}")
    except AccountError as exc:
        return await _page(request, str(exc), 422)
    await audit(engine, me, f"user.{action}", username,
                f"role {form.get('role')}" if action == "add" else "")
    return redirect("/admin/users")


def routes() -> list[web.RouteDef]:
    return [web.get("/admin/users", users_page), web.post("/admin/users", users_post)]
