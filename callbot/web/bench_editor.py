"""``callbot bench editor``: seconds from pressing "save" in the FAQ editor to a separate,
already running bot process answering with the change (the issue's target: 10 s).

On a scratch copy of the real data: the web app runs here (real HTTP, real login), the bot
is a ``callbot chat`` process started before the edit and asked the same question every
0.2 s. Two edits: a new answer text (no retraining), then new example questions for a
sentence the bot did not route to that topic (guard + training + model reload).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from callbot.config import Settings, StoreSettings
from callbot.nlu.embedded import EmbeddedNLU
from callbot.nlu.guard import estimate
from callbot.nlu.training_data import load_training_data
from callbot.store.accounts import add_user, open_session
from callbot.store.database import engine_from_settings, migrate
from callbot.web.app import init_app
from callbot.web.auth import SESSION_COOKIE
from callbot.web.live_edit import ChatProcess, chat_env, copy_data, topic_form

TOPIC = "birth_declaration"
QUESTION = "je voudrais déclarer la naissance de mon fils"
NEW_SENTENCE = "le marmot a pointé le bout de son nez cette nuit on fait quoi"
NOW = "2026-12-01T10:30"
LIVE_TIMEOUT_SEC = 300.0


async def _save(client: ClientSession, url: str, **changes: str) -> float:
    """Post the editor form with ``changes``; seconds the save request took."""
    async with client.get(url) as page:
        form = topic_form(await page.text(), **changes)
    started = time.perf_counter()
    async with client.post(url, data=form, allow_redirects=False) as saved:
        if saved.status != 303:
            raise RuntimeError(f"save refused ({saved.status}): {(await saved.text())[:500]}")
    return time.perf_counter() - started


async def bench_editor(settings: Settings) -> dict:
    with tempfile.TemporaryDirectory(prefix="callbot-bench-editor-") as scratch:
        root = Path(scratch)
        bench = settings.model_copy(update={
            "data_dir": copy_data(settings.data_dir, root / "data"), "kb_path": None,
            "store": StoreSettings(state_dir=root / "state", pseudonym_key="bench")})
        engine = engine_from_settings(bench.store)
        await migrate(engine)
        token, _ = await open_session(engine, await add_user(
            engine, "bench", "bench-password", "editor"), 1)
        chat = await asyncio.to_thread(ChatProcess, chat_env(bench), NOW)
        server = TestServer(init_app(bench, engine))
        await server.start_server()
        try:
            figures = await _measure(chat, server, token)
        finally:
            await server.close()
            await asyncio.to_thread(chat.close)
            await engine.dispose()
        figures.update(await asyncio.to_thread(_parts, bench.data_dir, root / "plain"))
        return figures


def _parts(data_dir: Path, scratch: Path) -> dict:
    """The two steps of an examples save, timed alone: the guard, and the training that
    runs beside it (the rest is a file replaced and a cached model loaded by the bot)."""
    proposed = load_training_data(data_dir)
    current = load_training_data(copy_data(data_dir, scratch))
    started = time.perf_counter()
    estimate(current, proposed)
    guard_sec = time.perf_counter() - started
    started = time.perf_counter()
    EmbeddedNLU.train(proposed)
    return {"guard_sec": round(guard_sec, 2),
            "train_sec": round(time.perf_counter() - started, 2)}


async def _measure(chat: ChatProcess, server: TestServer, token: str) -> dict:
    before = await asyncio.to_thread(chat.ask, QUESTION)
    unrouted = await asyncio.to_thread(chat.ask, NEW_SENTENCE)
    url = str(server.make_url(f"/editor/{TOPIC}"))
    marker = f"Révision de mesure {int(time.time())}."
    async with ClientSession(cookies={SESSION_COOKIE: token}) as client:
        pressed = time.monotonic()
        answer_save = await _save(client, url, answer=f"{marker} Déclarez la naissance en mairie.")
        answer_live = await asyncio.to_thread(chat.until, QUESTION,
                                              lambda turn: marker in turn["bot"],
                                              LIVE_TIMEOUT_SEC, pressed)
        pressed = time.monotonic()
        # A variant new at each run, so the model is never already in the cache.
        minute = time.strftime("%H heures %M")
        examples_save = await _save(client, url, examples=f"{NEW_SENTENCE}\n"
                                    f"le petit a pointé le bout de son nez à {minute}")
        examples_live = await asyncio.to_thread(chat.until, NEW_SENTENCE,
                                                lambda turn: turn["intent"] == TOPIC,
                                                LIVE_TIMEOUT_SEC, pressed)
    return {"topic": TOPIC, "answer_before": before["bot"][:60],
            "sentence_intent_before": unrouted["intent"],
            "answer_edit_save_sec": round(answer_save, 2),
            "answer_edit_live_sec": round(answer_live, 2),
            "examples_edit_save_sec": round(examples_save, 2),
            "examples_edit_live_sec": round(examples_live, 2),
            "target_sec": 10.0}
