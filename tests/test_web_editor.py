"""The FAQ editor through HTTP: preview, validation, save picked up live by a running bot,
concurrent edits, rollback, new examples retrained live, and the cross-validation guard.

Runs on a trimmed copy of the real NLU data (see ``small_data_dir``) so that retraining
takes seconds; the guard is the real one (``callbot.nlu.guard``).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp.test_utils import TestClient

from callbot.brain import Brain
from callbot.config import Settings
from callbot.kb.loader import load_knowledge_base
from callbot.web.live_edit import topic_form
from tests.test_web import client, engine, login, page_csrf, small_data, web_settings  # noqa: F401

NEW_ANSWER = "Une naissance se déclare dans les 5 jours, à la mairie du lieu de naissance, au 02 40 12 34 10."


def ask(brain: Brain, question: str) -> str:
    conversation = brain.conversation(lambda: datetime(2026, 12, 1, 10, 30))
    conversation.start()
    turn = conversation.hear(question)
    if turn.action == "clarify":  # the trimmed data make the NLU less sure: confirm
        turn = conversation.hear("oui")
    return turn.text


async def test_preview_speaks_and_validation_refuses(client: TestClient,  # noqa: F811
                                                     web_settings: Settings) -> None:  # noqa: F811
    await login(client, "editor")
    page = await (await client.get("/editor/birth_declaration")).text()
    preview = await client.post("/editor/birth_declaration", data=topic_form(
        page, action="preview", answer=NEW_ANSWER))
    text = await preview.text()
    assert preview.status == 200 and "cinq jours" in text and "zéro deux, quarante" in text
    before = web_settings.knowledge_base_path.read_text()
    bad = await client.post("/editor/birth_declaration", data=topic_form(
        page, answer="Voyez {phone:piscine_olympique} pour cela."))
    assert bad.status == 422 and "unknown service" in await bad.text()
    long = await client.post("/editor/birth_declaration", data=topic_form(
        page, answer=" ".join(["mot"] * 40) + "."))
    assert long.status == 422 and "first sentence has 40 words" in await long.text()
    assert web_settings.knowledge_base_path.read_text() == before


async def test_save_is_live_then_rollback(client: TestClient,  # noqa: F811
                                          web_settings: Settings) -> None:  # noqa: F811
    bot = Brain.load(web_settings)
    question = _examples_of(web_settings, "birth_declaration")[0]  # a sure recognition
    original = ask(bot, question)
    assert "5 jours qui suivent" in original
    await login(client, "editor")
    page = await (await client.get("/editor/birth_declaration")).text()
    saved = await client.post("/editor/birth_declaration", data=topic_form(
        page, answer=NEW_ANSWER, comment="plus court"), allow_redirects=False)
    assert saved.status == 303
    assert "5 jours, à la mairie du lieu" in ask(bot, question)
    revisions = await (await client.get("/editor/revisions")).text()
    assert "plus court" in revisions and "files as found on disk" in revisions
    detail = await (await client.get(saved.headers["Location"].replace(
        "/editor/birth_declaration?saved=", "/editor/revisions/"))).text()
    assert "+    answer: &#34;Une naissance se déclare dans les 5 jours" in detail
    token = await page_csrf(client, "/editor/revisions")
    back = await client.post("/editor/revisions/1/rollback", data={"csrf_token": token},
                             allow_redirects=False)
    assert back.status == 303
    assert ask(bot, question) == original
    await login(client, "admin")
    audit = await (await client.get("/admin/users")).text()
    assert audit.count("faq.save") == 2


async def test_second_editor_is_told_nothing_is_overwritten(
        client: TestClient, web_settings: Settings) -> None:  # noqa: F811
    await login(client, "editor")
    first = await (await client.get("/editor/birth_declaration")).text()
    second = await (await client.get("/editor/birth_declaration")).text()
    ok = await client.post("/editor/birth_declaration", data=topic_form(first, answer=NEW_ANSWER),
                           allow_redirects=False)
    assert ok.status == 303
    late = await client.post("/editor/birth_declaration", data=topic_form(
        second, answer="Réponse de l'autre éditeur."))
    assert late.status == 409 and "was changed by editor" in await late.text()
    kb = load_knowledge_base(web_settings.knowledge_base_path)
    assert kb.topics["birth_declaration"].answer == NEW_ANSWER


async def test_examples_retrain_live_and_the_guard_refuses_harmful_ones(
        client: TestClient, web_settings: Settings) -> None:  # noqa: F811
    bot = Brain.load(web_settings)
    question = "mon petit est arrivé hier soir il faut faire quoi pour les papiers"
    await login(client, "editor")
    page = await (await client.get("/editor/birth_declaration")).text()
    good = await client.post("/editor/birth_declaration", data=topic_form(
        page, examples=question + "\nle bébé est né ce matin que faut-il faire"),
        allow_redirects=False)
    assert good.status == 303, await good.text()
    bot.nlu.wait()
    assert bot.nlu.parse(question).intent.name == "birth_declaration"
    # Every "a person" and "goodbye" sentence as a birth declaration: several points of
    # cross-validation accuracy lost, well past the 2-point guard.
    harmful = "\n".join(e for intent in ("request_human", "goodbye")
                        for e in _examples_of(web_settings, intent))
    page = await (await client.get("/editor/birth_declaration")).text()
    refused = await client.post("/editor/birth_declaration", data=topic_form(
        page, examples=harmful))
    text = await refused.text()
    assert refused.status == 422 and "cross-validation accuracy" in text
    assert "je veux parler" not in (web_settings.data_dir / "nlu" / "editor.yml").read_text()


async def test_not_understood_sentence_added_in_one_click(
        client: TestClient, web_settings: Settings) -> None:  # noqa: F811
    await login(client, "editor")
    token = await page_csrf(client, "/not-understood")
    added = await client.post("/editor/examples", data={
        "csrf_token": token, "intent": "birth_declaration",
        "text": "ma femme a accouché on fait comment"}, allow_redirects=False)
    assert added.status == 303
    assert "ma femme a accouché" in (web_settings.data_dir / "nlu" / "editor.yml").read_text()
    await login(client, "ops")
    assert (await client.post("/editor/examples", data={
        "csrf_token": await page_csrf(client), "intent": "birth_declaration",
        "text": "x"})).status == 403


def _examples_of(settings: Settings, intent: str) -> list[str]:
    from callbot.nlu.training_data import load_training_data

    return [e.text for e in load_training_data(settings.data_dir).examples if e.intent == intent]
