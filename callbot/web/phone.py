"""« Essayer le robot »: a browser phone, so editors hear an answer as callers will.

The page's microphone audio goes over a WebSocket as 16 kHz PCM (an AudioWorklet) into the
same pipeline as a phone call: the generic bridge protocol, whose ``turn`` messages (what was
heard, the intent and its confidence, the action) make the live transcript. Without speech
models (offline, first run) the page still offers the text conversation, over ``/phone/text``,
with the same brain.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from loguru import logger

from callbot.bridge.generic_wire import DTMF_DIGITS, outgoing
from callbot.bridge.limits import BridgeLimits
from callbot.bridge.websocket_server import (
    CHANNEL_KEY,
    LIMITS_KEY,
    MAX_CALLS_KEY,
    STACK_KEY,
    generic_handler,
)
from callbot.conversation.call_events import CallEventSink, CallOutcome
from callbot.json_input import JsonInputError, load_json
from callbot.web.auth import requires

if TYPE_CHECKING:
    from callbot.brain import Brain
    from callbot.conversation.session import Conversation
    from callbot.conversation.turn import BotTurn
    from callbot.pipeline.call import VoiceStack

#: The text conversation's lines are short; a longer message is refused.
MAX_TEXT_CHARS = 500
#: The call log's channels of the page's calls: kept apart from the switchboard's figures.
VOICE_CHANNEL = "browser"
TEXT_CHANNEL = "chat"


@dataclass
class PhoneLine:
    """What the page can reach: the brain (loaded on first use under ``callbot web``), and
    whether calls with audio are possible here (``voice_missing`` says why not)."""

    load_brain: Callable[[], Brain]
    voice: bool = False
    voice_missing: str = "the web app runs without the phone listeners (use `callbot serve`)"
    sinks: list[CallEventSink] = field(default_factory=list)  # the call log, under serve
    _brain: Brain | None = None
    _loading: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def brain(self) -> Brain:
        async with self._loading:
            if self._brain is None:
                self._brain = await asyncio.to_thread(self.load_brain)
            return self._brain


PHONE = web.AppKey("phone_line", PhoneLine)


@requires("ops")
async def phone_page(request: web.Request) -> web.Response:
    line = request.app[PHONE]
    return aiohttp_jinja2.render_template("phone.html", request, {
        "voice": line.voice, "voice_missing": line.voice_missing})


def _turn_message(turn: BotTurn, brain: Brain) -> str:
    data = turn.to_json()
    data["title"] = brain.topic_label(data.get("kb_entry") or data.get("intent"))
    return outgoing("turn", turn=data)


def _caller_event(text: str) -> tuple[str, str]:
    """A message of the text conversation → (kind, value); ``ValueError`` says what is wrong."""
    if len(text) > MAX_TEXT_CHARS * 2:
        raise ValueError(f"message longer than {MAX_TEXT_CHARS * 2} characters")
    try:
        data = load_json(text)
    except JsonInputError as exc:
        raise ValueError(f"invalid JSON: {exc}") from exc
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "say" and isinstance(data.get("text"), str) and data["text"].strip():
        return "say", data["text"][:MAX_TEXT_CHARS]
    if kind == "dtmf" and data.get("digit") in DTMF_DIGITS:
        return "dtmf", data["digit"]
    if kind in ("silence", "stop"):
        return kind, ""
    raise ValueError('expected {"type": "say", "text": …}, {"type": "dtmf", "digit": …}, '
                     '{"type": "silence"} or {"type": "stop"}')


@requires("ops")
async def text_call(request: web.Request) -> web.WebSocketResponse:
    """The text conversation: the greeting, then one turn per line typed or key pressed."""
    ws = web.WebSocketResponse(max_msg_size=4 * MAX_TEXT_CHARS, heartbeat=30)
    await ws.prepare(request)
    line = request.app[PHONE]
    brain = await line.brain()
    conversation = brain.conversation()
    conversation.call_id, conversation.channel = uuid.uuid4().hex, TEXT_CHANNEL
    conversation.sinks.extend(line.sinks)
    say: Callable[[Callable[[], BotTurn]], Awaitable[BotTurn]] = asyncio.to_thread
    try:
        await ws.send_str(outgoing("started", call_id=conversation.call_id))
        await ws.send_str(_turn_message(await say(conversation.start), brain))
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            try:
                kind, value = _caller_event(message.data)
            except ValueError as exc:
                await ws.send_str(outgoing("error", message=str(exc)))
                continue
            if kind == "stop":
                break
            turn = await say(_step(conversation, kind, value))
            await ws.send_str(_turn_message(turn, brain))
            if conversation.ended:
                await ws.send_str(outgoing("hangup", reason="end of conversation"))
                break
    except ConnectionError as exc:
        logger.info(f"browser text call: the page went away ({type(exc).__name__})")
    finally:
        conversation.close(CallOutcome.ABANDONED, detail="the page hung up")
        with contextlib.suppress(ConnectionError):
            await ws.close()
    return ws


def _step(conversation: Conversation, kind: str, value: str) -> Callable[[], BotTurn]:
    if kind == "say":
        return lambda: conversation.hear(value)
    if kind == "dtmf":
        return lambda: conversation.dtmf(value)
    return conversation.silence


def add_voice(app: web.Application, stack: VoiceStack, max_calls: int,
              limits: BridgeLimits) -> None:
    """Under ``callbot serve``: the page's calls take the phone calls' pipeline (and count
    against the same ``voice.max_calls``), on the generic protocol at ``/phone/call``."""
    app[STACK_KEY], app[MAX_CALLS_KEY], app[LIMITS_KEY] = stack, max_calls, limits
    app[CHANNEL_KEY] = VOICE_CHANNEL
    app[PHONE].voice = True
    app.router.add_get("/phone/call", requires("ops")(generic_handler))


def routes() -> list[web.RouteDef]:
    return [web.get("/phone", phone_page), web.get("/phone/text", text_call)]
