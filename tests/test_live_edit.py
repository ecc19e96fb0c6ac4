"""Saves in the FAQ editor reach a *separate, already running* bot process on its next turns:
a ``callbot chat`` process started before the edits, asked again until it answers with the
change. The bound below only stops a broken run; the speed is ``callbot bench editor``'s."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient

from callbot.config import Settings
from callbot.web.live_edit import ChatProcess, chat_env, topic_form
from tests.test_web import client, engine, login, page_csrf, small_data, web_settings  # noqa: F401
from tests.test_web_editor import NEW_ANSWER, _examples_of

TOPIC = "birth_declaration"
SENTENCE = "le marmot a pointé le bout de son nez cette nuit on fait quoi"
NOW = "2026-12-01T10:30"
BOUND_SEC = 180.0


def answered(turn: dict) -> bool:
    """The bot answered the sentence as the edited topic, without asking to confirm."""
    return turn["intent"] == TOPIC and turn["action"] == "answer"


async def _save(client: TestClient, **changes: str) -> None:  # noqa: F811
    page = await (await client.get(f"/editor/{TOPIC}")).text()
    saved = await client.post(f"/editor/{TOPIC}", data=topic_form(page, **changes),
                              allow_redirects=False)
    assert saved.status == 303, await saved.text()


@pytest.mark.parametrize("web_settings", ["sqlite"], indirect=True)
async def test_a_running_bot_process_takes_each_save(client: TestClient,  # noqa: F811
                                                     web_settings: Settings) -> None:  # noqa: F811
    chat = await asyncio.to_thread(ChatProcess, chat_env(web_settings), NOW)
    try:
        question = _examples_of(web_settings, TOPIC)[0]
        first = await asyncio.to_thread(chat.ask, question, True)  # trimmed data: less sure
        assert first["kb_entry"] == TOPIC and "5 jours qui suivent" in first["bot"]
        assert not answered(await asyncio.to_thread(chat.ask, SENTENCE))
        await login(client, "editor")

        await _save(client, answer=NEW_ANSWER)  # the answer only: no retraining
        await asyncio.to_thread(chat.until, question,
                                lambda turn: "5 jours, à la mairie du lieu" in turn["bot"],
                                BOUND_SEC, confirm=True)

        await _save(client, examples=f"{SENTENCE}\nle petit a pointé le bout de son nez")
        await asyncio.to_thread(chat.until, SENTENCE, answered, BOUND_SEC)

        token = await page_csrf(client, "/editor/revisions")
        back = await client.post("/editor/revisions/1/rollback", data={"csrf_token": token},
                                 allow_redirects=False)
        assert back.status == 303
        await asyncio.to_thread(chat.until, question,
                                lambda turn: "5 jours qui suivent" in turn["bot"], BOUND_SEC,
                                confirm=True)
        await asyncio.to_thread(chat.until, SENTENCE, lambda turn: not answered(turn),
                                BOUND_SEC)
    finally:
        await asyncio.to_thread(chat.close)
