"""The web application, built in one place: ``init_app(settings)``.

Resources live in ``cleanup_ctx`` (database engine, FAQ editor, the rollups warm-up) and
are closed in reverse order; views are plain functions registered from their modules.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp_jinja2
import jinja2
from aiohttp import web
from loguru import logger
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.config import Settings
from callbot.speech.preview import piper_preview
from callbot.store import rollups
from callbot.store.database import engine_from_settings, migrate
from callbot.web import (
    admin,
    auth,
    campaign_new,
    campaigns,
    dashboard,
    editor,
    messages,
    metrics,
    phone,
)
from callbot.web.faq import FaqEditor
from callbot.web.keys import AUDIO_PREVIEW, EDITOR, ENGINE, SETTINGS
from callbot.web.phone import PHONE, PhoneLine

if TYPE_CHECKING:
    from callbot.brain import Brain

HERE = Path(__file__).parent


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


async def _context(request: web.Request) -> dict:
    return {"session": request.get("session")}


async def _warm_rollups(engine: AsyncEngine, settings: Settings) -> None:
    """Past days' dashboard figures, computed in the background at start."""
    try:
        await rollups.prepare(engine, dashboard.local_today(settings))
    except SQLAlchemyError as exc:
        logger.warning(f"dashboard rollups not prepared ({type(exc).__name__}: {exc})")


def _brain_loader(settings: Settings) -> PhoneLine:
    """Under ``callbot web`` alone the page's text conversation loads its own brain."""
    def load() -> Brain:
        from callbot.brain import Brain

        return Brain.load(settings)

    return PhoneLine(load_brain=load)


def init_app(settings: Settings, engine: AsyncEngine | None = None,
             phone_line: PhoneLine | None = None,
             campaign_dialer: campaigns.DialerFactory | None = None) -> web.Application:
    """The whole app; ``engine`` lets tests and benchmarks share theirs, ``phone_line`` lets
    ``callbot serve`` lend its brain and call log to the « Essayer le robot » page,
    ``campaign_dialer`` lets the campaign page start runs (``callbot.web.campaigns``)."""
    app = web.Application(middlewares=[auth.auth_middleware], client_max_size=1024 ** 2)
    app[SETTINGS] = settings
    app[PHONE] = phone_line or _brain_loader(settings)
    app[AUDIO_PREVIEW] = piper_preview(settings)
    app[auth.LOGIN_FAILURES] = defaultdict(deque)
    campaigns.setup(app, campaign_dialer)
    environment = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        context_processors=[_context, aiohttp_jinja2.request_processor])
    environment.filters.update(percent=_percent, seconds=_seconds)

    async def database(app: web.Application) -> AsyncIterator[None]:
        app[ENGINE] = engine or engine_from_settings(settings.store)
        await migrate(app[ENGINE], settings.store.schema_name)
        app[EDITOR] = FaqEditor(settings, app[ENGINE])
        # Only when the app owns its engine: one lent by a test or a benchmark may be
        # disposed of before the app is torn down.
        warm = None if engine else asyncio.create_task(_warm_rollups(app[ENGINE], settings),
                                                       name="rollups-warm")
        yield
        if warm:  # awaited, not cancelled: a query cancelled mid-way can leave its
            await asyncio.gather(warm, return_exceptions=True)  # connection in a transaction
        if engine is None:
            await app[ENGINE].dispose()

    app.cleanup_ctx.append(database)
    for module in (auth, metrics, dashboard, editor, admin, phone, messages, campaign_new,
                   campaigns):
        app.add_routes(module.routes())
    app.router.add_static("/static", HERE / "static")
    return app


async def start_web(settings: Settings, app: web.Application | None = None) -> web.AppRunner:
    """The dashboard inside another process's event loop (``callbot serve``);
    ``cleanup()`` the runner to stop it."""
    runner = web.AppRunner(app or init_app(settings), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, settings.web.host, settings.web.port).start()
    host, port = runner.addresses[0][:2]
    logger.info(f"dashboard and FAQ editor: http://{host}:{port}/")
    return runner


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    web.run_app(init_app(settings), host=host or settings.web.host,
                port=port or settings.web.port, print=lambda text: print(text, flush=True))
