"""Login, sessions, roles and CSRF, as one middleware and a decorator.

Nothing answers without a session except the login page, ``/health`` and static files
(``/metrics`` also takes a configured bearer token). Every POST carries the session's
CSRF token; the login form, before any session, uses a double-submit cookie. Failed
logins are limited per address and user name.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from callbot.store.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    WebSession,
    audit,
    authenticate,
    close_session,
    find_session,
    open_session,
    set_password,
)
from callbot.web.keys import ENGINE, SETTINGS

SESSION_COOKIE = "callbot_session"
LOGIN_CSRF_COOKIE = "callbot_login_csrf"
PUBLIC_PATHS = frozenset({"/login", "/health", "/metrics"})
#: Where a user whose password expired must go first (the first admin's one-time password).
PASSWORD_PAGE = "/account/password"
MAX_FAILURES = 5
FAILURE_WINDOW_SEC = 300.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Recent failed logins of one app, by "address|user name" (monotonic times).
LOGIN_FAILURES = web.AppKey("login_failures", defaultdict)


def redirect(location: str) -> web.Response:
    """A 303 after a POST (the browser then GETs ``location``)."""
    return web.Response(status=303, headers={"Location": location})


def session_of(request: web.Request) -> WebSession:
    return request["session"]


def requires(role: str) -> Callable[[Handler], Handler]:
    """The handler answers 403 to a user whose role is below ``role``."""
    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            if not session_of(request).user.can(role):
                raise web.HTTPForbidden(text=f"this page needs the {role} role")
            return await handler(request)
        return checked
    return decorate


async def form_of(request: web.Request) -> MultiDictProxy:
    """The POSTed form; a body that is not one (torn multipart, bad charset…) answers 400."""
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError) as exc:
        raise web.HTTPBadRequest(text=f"the form could not be read: {str(exc)[:120]}") from exc


def same_token(sent: object, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII text (never equal, then)."""
    return secrets.compare_digest(str(sent).encode(), expected.encode())


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    request["session"] = await find_session(request.app[ENGINE], token) if token else None
    public = request.path in PUBLIC_PATHS or request.path.startswith("/static/")
    if request["session"] is None and not public:
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            raise web.HTTPFound(f"/login?{urlencode({'next': request.path_qs})}")
        raise web.HTTPUnauthorized(text="log in first")
    expired = request["session"] is not None and request["session"].user.password_expired
    if expired and not public and request.path not in (PASSWORD_PAGE, "/logout"):
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            raise web.HTTPFound(PASSWORD_PAGE)
        raise web.HTTPForbidden(text=f"choose a new password first: {PASSWORD_PAGE}")
    if request.method == "POST" and request["session"] is not None and request.path != "/login":
        form = await form_of(request)
        sent = form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
        if not same_token(sent, request["session"].csrf_token):
            raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page")
    response = await handler(request)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _limited(failures: defaultdict[str, deque[float]], key: str) -> bool:
    window = failures[key]
    while window and window[0] < time.monotonic() - FAILURE_WINDOW_SEC:
        window.popleft()
    return len(window) >= MAX_FAILURES


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def login_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"csrf_token": csrf, "error": error,
                                "next": _safe_next(request.query.get("next", "/"))})
    response.set_status(status)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict",
                        secure=request.app[SETTINGS].web.secure_cookies)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not same_token(form.get("csrf_token", ""), cookie):
        raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the login page")
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    key = f"{request.remote}|{username}"
    failures = request.app[LOGIN_FAILURES]
    if _limited(failures, key):
        return await login_page(request, "Too many failed attempts: wait a few minutes.", 429)
    engine = request.app[ENGINE]
    user = await authenticate(engine, username, password)
    if user is None:
        failures[key].append(time.monotonic())
        return await login_page(request, "Wrong user name or password.", 401)
    failures.pop(key, None)
    settings = request.app[SETTINGS].web
    token, _ = await open_session(engine, user, settings.session_hours)
    response = redirect(_safe_next(str(form.get("next", "/"))))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        secure=settings.secure_cookies, max_age=int(settings.session_hours * 3600))
    response.del_cookie(LOGIN_CSRF_COOKIE)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    await close_session(request.app[ENGINE], request.cookies[SESSION_COOKIE])
    response = redirect("/login")
    response.del_cookie(SESSION_COOKIE)
    return response


async def password_page(request: web.Request, error: str = "",
                        status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template("password.html", request, {
        "error": error, "min_length": MIN_PASSWORD_LENGTH})
    response.set_status(status)
    return response


async def change_password(request: web.Request) -> web.StreamResponse:
    """The user's own new password; every session of theirs ends, so they log in again."""
    form = await form_of(request)
    password = str(form.get("password", ""))
    if password != str(form.get("again", "")):
        return await password_page(request, "Les deux mots de passe diffèrent.", 400)
    user = session_of(request).user
    try:
        await set_password(request.app[ENGINE], user.username, password)
    except AccountError as exc:
        return await password_page(request, str(exc), 400)
    await audit(request.app[ENGINE], user.username, "user.passwd", user.username, "own password")
    response = redirect("/login")
    response.del_cookie(SESSION_COOKIE)
    return response


def routes() -> list[web.RouteDef]:
    return [web.get("/login", login_page), web.post("/login", login),
            web.post("/logout", logout), web.get(PASSWORD_PAGE, password_page),
            web.post(PASSWORD_PAGE, change_password)]
