"""Typed keys of the web application (``web.AppKey``), shared by the views."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.config import Settings
from callbot.web.faq import FaqEditor

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
EDITOR = web.AppKey("editor", FaqEditor)
#: Text → WAV bytes for the editor's audio preview; set by the speech layer when a Piper
#: voice is available (``None``: the page offers the spoken-text preview only).
AUDIO_PREVIEW = web.AppKey("audio_preview", Callable[[str], Awaitable[bytes]] | None)  # type: ignore[arg-type]
