"""The editor beyond one topic's text: topics created, edited and deleted in the editor, the
"not understood" inbox in groups, services' hours and closures — through HTTP, on real
files in a scratch copy of the data, the bot reading the same files.

The topic files of the copy are replaced by ``tests/fixtures/topics/sample.yml`` (a
service and a topic with comments), so the tests do not follow the town's topic files.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from callbot.brain import Brain
from callbot.config import Settings
from callbot.kb.answers import answer_topic
from callbot.kb.loader import TOPICS_DIR, load_knowledge_base
from callbot.kb.model import WEEKDAYS_FR
from callbot.store.calllog import CallLogWriter
from callbot.web.inbox import group_sentences
from callbot.web.service_text import normal_hours
from tests.test_store import scripted_call
from tests.test_web import client, engine, login, page_csrf, small_data, web_settings  # noqa: F401
from tests.test_web_editor import ask

SAMPLE = Path(__file__).parent / "fixtures" / "topics" / "sample.yml"
LIBRARY = {"label": "la médiathèque municipale", "service": "vie_associative",
           "answer": "La médiathèque prête des livres gratuitement à tous les habitants ; "
                     "l'inscription se fait sur place avec une pièce d'identité.",
           "details": "Chaque abonné peut emprunter dix documents pour trois semaines.",
           "questions": "je voudrais emprunter des livres à la médiathèque\n"
                        "comment on s'inscrit à la médiathèque\n"
                        "la médiathèque c'est gratuit pour emprunter des livres\n"
                        "où est-ce que je peux emprunter des bouquins"}
MONDAY_EVENING = datetime(2026, 12, 7, 18, 0)


@pytest.fixture
def data(web_settings: Settings) -> Settings:  # noqa: F811
    """The web settings, with only the sample topic file beside kb.yml."""
    topics = web_settings.data_dir / TOPICS_DIR
    shutil.rmtree(topics, ignore_errors=True)
    topics.mkdir()
    shutil.copy(SAMPLE, topics / SAMPLE.name)
    return web_settings


def snapshot(settings: Settings) -> dict[str, str]:
    return {str(p.relative_to(settings.data_dir)): p.read_text("utf-8")
            for p in sorted(settings.data_dir.rglob("*.yml"))}


async def post(client: TestClient, path: str, form: dict,  # noqa: F811
               page: str | None = None) -> tuple[int, str, str]:
    """(status, body, Location) of a form posted with the CSRF token of ``page``."""
    response = await client.post(path, data={"csrf_token": await page_csrf(client, page or path),
                                             **form}, allow_redirects=False)
    return response.status, await response.text(), response.headers.get("Location", "")


async def test_created_topic_is_answered_without_training(
        data: Settings, client: TestClient) -> None:  # noqa: F811
    bot = Brain.load(data)
    question = "je voudrais emprunter des livres à la médiathèque"
    assert "prête des livres" not in ask(bot, question)
    await login(client, "editor")
    prefilled = await (await client.get("/editor/new?question=un&question=deux")).text()
    assert "un\ndeux</textarea>" in prefilled
    status, body, location = await post(client, "/editor/new", LIBRARY)
    assert status == 303, body
    assert location.startswith("/editor/mediatheque_municipale?saved=")
    kb = load_knowledge_base(data.knowledge_base_path)
    topic = kb.topics["mediatheque_municipale"]
    assert topic.source == str(data.data_dir / TOPICS_DIR / "editor.yml")
    assert len(topic.questions) == 4 and topic.service == "vie_associative"
    bot.nlu.wait()
    assert "prête des livres" in ask(bot, question)
    page = await (await client.get("/editor/mediatheque_municipale")).text()
    assert "Supprimer ce sujet" in page and "comment on s&#39;inscrit" in page
    revisions = await (await client.get("/editor/revisions")).text()
    assert "new topic mediatheque_municipale" in revisions


async def test_editor_topic_questions_edited_deleted_and_rolled_back(
        data: Settings, client: TestClient) -> None:  # noqa: F811
    await login(client, "editor")
    assert (await post(client, "/editor/new", LIBRARY))[0] == 303
    page = await (await client.get("/editor/mediatheque_municipale")).text()
    version = page.split('name="version" value="')[1].split('"')[0]
    status, body, _ = await post(client, "/editor/mediatheque_municipale", {
        "version": version, "action": "save", "label": LIBRARY["label"],
        "answer": LIBRARY["answer"], "details": "",
        "questions": LIBRARY["questions"] + "\nvous avez des bandes dessinées à prêter"},
        "/editor/mediatheque_municipale")
    assert status == 303, body
    topic = load_knowledge_base(data.knowledge_base_path).topics["mediatheque_municipale"]
    assert topic.questions[-1] == "vous avez des bandes dessinées à prêter" and not topic.details
    page = await (await client.get("/editor/mediatheque_municipale")).text()
    version = page.split('name="version" value="')[1].split('"')[0]
    status, _, location = await post(client, "/editor/mediatheque_municipale/delete",
                                     {"version": version}, "/editor/mediatheque_municipale")
    assert status == 303 and location == "/editor?deleted=mediatheque_municipale"
    assert "mediatheque_municipale" not in load_knowledge_base(data.knowledge_base_path).topics
    assert (await client.get("/editor/mediatheque_municipale")).status == 404
    history = await (await client.get("/editor/revisions")).text()
    edited = history.split("edit mediatheque_municipale")[0].rsplit('/editor/revisions/', 1)[1]
    number = edited.split('"')[0]
    status, _, _ = await post(client, f"/editor/revisions/{number}/rollback", {},
                              "/editor/revisions")
    assert status == 303
    topic = load_knowledge_base(data.knowledge_base_path).topics["mediatheque_municipale"]
    assert "bandes dessinées" in topic.questions[-1]
    await login(client, "admin")
    audit = await (await client.get("/admin/users")).text()
    assert "faq.create" in audit and "faq.delete" in audit


async def test_refused_topic_shows_every_problem_and_writes_nothing(
        data: Settings, client: TestClient) -> None:  # noqa: F811
    await login(client, "editor")
    before = snapshot(data)
    status, body, _ = await post(client, "/editor/new", {
        **LIBRARY, "service": "piscine_olympique", "questions": "un\ndeux"})
    assert status == 422
    assert "choose the service that handles it" in body and "at least 3 ways" in body
    assert snapshot(data) == before
    status, body, _ = await post(client, "/editor/new", {
        **LIBRARY, "answer": " ".join(["mot"] * 40) + ". Voyez {phone:nulle_part}.",
        "questions": LIBRARY["questions"] + "\nc'est quand que la piscine est ouverte"})
    assert status == 422
    assert "editor.yml, line 7: topic &#39;mediatheque_municipale&#39;: the first sentence " \
        "has 40 words" in body and "{phone:nulle_part}: unknown service" in body
    assert "is also asked under &#39;mediatheque_municipale&#39;" in body
    assert "où est-ce que je peux emprunter des bouquins" in body  # the form keeps the text
    assert snapshot(data) == before


def test_inbox_groups_similar_sentences() -> None:
    rows = [{"text": t, "n": n, "call_id": "c"} for t, n in (
        ("la piscine elle ouvre quand", 3), ("est-ce que la piscine est ouverte", 1),
        ("horaires de la piscine municipale", 1), ("je voudrais louer un vélo", 2),
        ("on peut louer des vélos à la mairie", 1), ("j'ai perdu mon chien", 1),
        ("mon chien a disparu", 1), ("euh", 1))]
    groups = [set(g.texts) for g in group_sentences(rows)]
    assert groups[0] == {"la piscine elle ouvre quand", "est-ce que la piscine est ouverte",
                         "horaires de la piscine municipale"}
    assert {"je voudrais louer un vélo", "on peut louer des vélos à la mairie"} in groups
    assert {"j'ai perdu mon chien", "mon chien a disparu"} in groups and {"euh"} in groups
    assert group_sentences(rows[:1])[0].total == 3 and group_sentences([]) == []


async def test_inbox_group_becomes_questions_of_a_topic_file_topic(
        data: Settings, client: TestClient) -> None:  # noqa: F811
    bot = Brain.load(data)
    writer = CallLogWriter(data.store).start()
    sentences = ["zorglub le vélo rail de la gare", "le vélo rail zorglub il part quand"]
    for sentence in sentences:
        scripted_call(bot, writer, [sentence])
    await asyncio.to_thread(writer.close)
    await login(client, "editor")
    inbox = await (await client.get("/not-understood?from=2026-12-01&to=2026-12-01")).text()
    group = inbox.split('<section class="group">')[1]
    assert all(s in group for s in sentences) and "Créer un sujet à partir" in group
    questions_form = group.split('action="/editor/questions"')[1]
    assert '<option value="swimming_pool">' in questions_form  # topic files take questions
    assert '<option value="birth_declaration">' not in questions_form  # kb.yml's do not
    sample = data.data_dir / TOPICS_DIR / "sample.yml"
    status, body, _ = await post(client, "/editor/questions", {
        "topic": "swimming_pool", "text": "vous avez des cours de natation"}, "/not-understood")
    assert status == 303, body
    text = sample.read_text("utf-8")
    assert '      - "vous avez des cours de natation"\n\ntopics:' not in text
    assert "# as callers say it" in text and "# lunchtime swim" in text
    topic = load_knowledge_base(data.knowledge_base_path).topics["swimming_pool"]
    assert topic.questions[-1] == "vous avez des cours de natation"
    status, body, _ = await post(client, "/editor/questions", {
        "topic": "birth_declaration", "text": "mon bébé est né"}, "/not-understood")
    assert status == 422 and "add as example" in body


async def test_hours_and_closures_edit_what_the_bot_says(
        data: Settings, client: TestClient) -> None:  # noqa: F811
    kb = load_knowledge_base(data.knowledge_base_path)
    before = answer_topic(kb, "opening_hours", MONDAY_EVENING).text
    await login(client, "editor")
    page = await (await client.get("/editor/services/mairie")).text()
    assert 'value="8h30-12h, 13h30-17h30"' in page
    version = page.split('name="version" value="')[1].split('"')[0]
    kb_text = data.knowledge_base_path.read_text("utf-8")
    form = {"version": version, "name": "l'accueil de la mairie", "phone": "02 40 12 34 00",
            "address": "1 place de la République, 44350 Villebrune",
            "access": kb.services["mairie"].access,
            **{f"hours_{d}": "8h30-12h, 13h30-17h30" for d in WEEKDAYS_FR},
            "hours_lundi": "8h30-12h, 13h30-19h", "hours_samedi": "9h-12h",
            "hours_dimanche": "fermé", "remove": "0"}
    status, body, _ = await post(client, "/editor/services/mairie", form,
                                 "/editor/services/mairie")
    assert status == 303, body
    kb = load_knowledge_base(data.knowledge_base_path)
    after = answer_topic(kb, "opening_hours", MONDAY_EVENING).text
    assert after != before and "19" in after, (before, after)
    assert kb.services["mairie"].closures[0].reason != \
        "fermeture exceptionnelle le lendemain de l'Ascension"
    new_text = data.knowledge_base_path.read_text("utf-8")
    assert new_text.splitlines()[:2] == kb_text.splitlines()[:2]  # the town's comments
    changed = [a for a, b in zip(kb_text.splitlines(), new_text.splitlines(), strict=False)
               if a != b]
    assert changed[0].strip() == "lundi: 8h30-12h, 13h30-17h30"
    page = await (await client.get("/editor/services/mairie")).text()
    version = page.split('name="version" value="')[1].split('"')[0]
    status, body, _ = await post(client, "/editor/services/mairie", {
        **form, "version": version, "remove": "", "closure_from": "2026-12-07",
        "closure_reason": "inventaire annuel"}, "/editor/services/mairie")
    assert status == 303, body
    kb = load_knowledge_base(data.knowledge_base_path)
    closed = answer_topic(kb, "opening_hours", MONDAY_EVENING).text
    assert "inventaire annuel" in closed or "fermé" in closed, closed


async def test_service_of_a_topic_file_is_edited_in_its_file(
        data: Settings, client: TestClient) -> None:  # noqa: F811
    await login(client, "editor")
    page = await (await client.get("/editor/services/piscine")).text()
    assert "topics/sample.yml" in page
    version = page.split('name="version" value="')[1].split('"')[0]
    kb = load_knowledge_base(data.knowledge_base_path)
    pool = kb.services["piscine"]
    form = {"version": version, "name": pool.name, "phone": "02 40 12 34 61",
            "address": pool.address, "access": pool.access,
            **{f"hours_{d}": normal_hours("10h-19h") for d in WEEKDAYS_FR}}
    status, body, _ = await post(client, "/editor/services/piscine", form,
                                 "/editor/services/piscine")
    assert status == 303, body
    text = (data.data_dir / TOPICS_DIR / "sample.yml").read_text("utf-8")
    assert "mardi: 10h-19h   # lunchtime swim" in text and "# the technical shutdown" in text
    assert load_knowledge_base(data.knowledge_base_path).services["piscine"].phone == \
        "02 40 12 34 61"


async def test_broken_hours_are_refused_with_a_clear_message(
        data: Settings, client: TestClient) -> None:  # noqa: F811
    await login(client, "editor")
    page = await (await client.get("/editor/services/mairie")).text()
    version = page.split('name="version" value="')[1].split('"')[0]
    before = snapshot(data)
    status, body, _ = await post(client, "/editor/services/mairie", {
        "version": version, **{f"hours_{d}": "fermé" for d in WEEKDAYS_FR},
        "hours_mardi": "8h30-25h", "hours_jeudi": "de 9h à midi",
        "closure_from": "2026-12-24", "closure_to": "2026-12-20"}, "/editor/services/mairie")
    assert status == 422
    assert "mardi: &#34;8h30-25h&#34; is not opening hours: impossible time in &#39;8h30-25h&#39;" \
        in body
    assert "jeudi: &#34;de 9h à midi&#34; is not opening hours" in body
    assert "ends (2026-12-20) before it starts (2026-12-24)" in body
    assert 'value="de 9h à midi"' in body  # what was typed stays in the form
    assert snapshot(data) == before


INLINE = """# inline layouts: rewritten key by key, the rest kept
services:
  salle:
    name: la salle des fêtes  # the big one
    address: 3 rue du Stade, 44350 Villebrune
    phone: 02 40 12 34 70
    hours: {lundi: fermé, mardi: 9h-12h, mercredi: fermé, jeudi: fermé, vendredi: fermé,
            samedi: fermé, dimanche: fermé}
    closures: []
topics:
  hall:
    label: la salle des fêtes
    service: salle
    answer: "La salle des fêtes se loue à la mairie."
    questions: [je voudrais louer la salle des fêtes, la salle des fêtes c'est combien,
                on peut réserver la salle]
"""


def test_inline_layouts_are_rewritten_key_by_key(tmp_path: Path) -> None:
    from callbot.web.service_text import ClosureDraft, ServiceEdit, apply_service_edit
    from callbot.web.topic_text import append_questions, new_topic_id

    path = tmp_path / "salle.yml"
    hours = {d: "fermé" for d in WEEKDAYS_FR} | {"mardi": "9h-12h, 14h-18h"}
    edited = apply_service_edit(path, INLINE, "salle", ServiceEdit(
        {"name": "la salle des fêtes", "phone": "02 40 12 34 71"}, hours, frozenset(),
        (ClosureDraft(datetime(2026, 12, 24).date(), datetime(2026, 12, 26).date(), "Noël"),)))
    edited = append_questions(path, edited, "hall", ["la salle elle est libre samedi"])
    lines = edited.splitlines()
    assert lines[0] == "# inline layouts: rewritten key by key, the rest kept"
    assert "    name: la salle des fêtes  # the big one" in lines  # unchanged: untouched
    assert '    phone: "02 40 12 34 71"' in lines and "      mardi: 9h-12h, 14h-18h" in lines
    assert "      - from: 2026-12-24" in lines and '        reason: "Noël"' in lines
    assert lines[-1] == '      - "la salle elle est libre samedi"'
    import yaml

    document = yaml.safe_load(edited)
    assert len(document["topics"]["hall"]["questions"]) == 4
    assert document["services"]["salle"]["hours"]["mardi"] == "9h-12h, 14h-18h"
    assert new_topic_id("La salle des fêtes !", {"salle_fetes"}) == "salle_fetes_2"
    assert new_topic_id("Les services", ()) == "services_2"  # /editor/services is a page
