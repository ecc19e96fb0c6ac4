"""Every route of the web app, for every role, on SQLite and PostgreSQL (aiohttp test client).

No login → redirect (pages) or 401; a page above the user's role → 403; a form without
its CSRF token → 403; the dashboard shows the calls a real conversation logged.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.brain import Brain
from callbot.config import Settings
from callbot.conversation.call_events import CallOutcome, LineEventKind
from callbot.conversation.model import TransferReason, TurnAction
from callbot.kb.loader import TOPICS_DIR
from callbot.nlu.intents import DIALOGUE_INTENTS, NLU_FALLBACK
from callbot.store import queries
from callbot.store.accounts import add_user
from callbot.store.calllog import CallLogWriter
from callbot.store.database import engine_from_settings, migrate
from callbot.store.schema import daily_rollups
from callbot.store.writes import apply_records
from callbot.web import wording
from callbot.web.app import init_app
from callbot.web.dashboard import local_today
from tests.conftest import DATA_DIR
from tests.test_store import (
    PG_URL,
    _drop_schema,
    _Proxy,
    _wait_for,
    make_store_settings,
    scripted_call,
)

PASSWORD = "correct horse battery"
ROLES = ("ops", "editor", "admin")
EXAMPLES_PER_INTENT = 8


def small_data_dir(target: Path) -> Path:
    """The real knowledge base with a trimmed copy of the NLU data, so retraining and
    cross-validation take seconds in tests (the data are the real ones, fewer of them)."""
    target.mkdir(parents=True)
    shutil.copy(DATA_DIR / "kb.yml", target / "kb.yml")
    kept: dict[str, int] = {}
    for source in sorted(DATA_DIR.rglob("*.yml")):
        if source.name == "kb.yml" or source.name == "editor.yml":
            continue
        if source.parent == DATA_DIR / TOPICS_DIR:  # knowledge base, not NLU: as it is
            (target / TOPICS_DIR).mkdir(exist_ok=True)
            shutil.copy(source, target / TOPICS_DIR / source.name)
            continue
        document = yaml.safe_load(source.read_text("utf-8"))
        items = []
        for item in document.get("nlu") or []:
            if "intent" in item:
                room = EXAMPLES_PER_INTENT - kept.get(item["intent"], 0)
                lines = [x for x in item["examples"].splitlines() if x.strip()][:room]
                if not lines:
                    continue
                kept[item["intent"]] = kept.get(item["intent"], 0) + len(lines)
                item["examples"] = "\n".join(lines) + "\n"
            items.append(item)
        document["nlu"] = items
        destination = target / source.relative_to(DATA_DIR)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    return target


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_data_dir(tmp_path_factory.mktemp("web") / "data")


@pytest.fixture(params=["sqlite", "postgresql"])
def web_settings(request: pytest.FixtureRequest, tmp_path: Path, small_data: Path,
                 nlu_cache: Path) -> Iterator[Settings]:
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    store = make_store_settings(request.param, tmp_path / "state")
    yield Settings(data_dir=data, nlu={"cache_dir": nlu_cache}, store=store)
    if store.schema_name:
        asyncio.run(_drop_schema(store.schema_name))


@pytest.fixture
async def engine(web_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = engine_from_settings(web_settings.store)
    await migrate(engine, web_settings.store.schema_name)
    for role in ROLES:
        await add_user(engine, role, PASSWORD, role)
    await add_user(engine, "gone", PASSWORD, "admin")
    from callbot.store.accounts import set_active

    await set_active(engine, "gone", False)
    yield engine
    await engine.dispose()


@pytest.fixture
async def client(aiohttp_client: object, web_settings: Settings,
                 engine: AsyncEngine) -> TestClient:
    return await aiohttp_client(init_app(web_settings, engine))  # type: ignore[operator]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


async def login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    client.session.cookie_jar.clear()
    page = await client.get("/login")
    response = await client.post("/login", data={
        "username": username, "password": password, "csrf_token": csrf_of(await page.text()),
        "next": "/"}, allow_redirects=False)
    return response.status


async def page_csrf(client: TestClient, path: str = "/") -> str:
    return csrf_of(await (await client.get(path)).text())


GET_PAGES = {  # path → lowest role that may see it
    "/": "ops", "/live": "ops", "/calls": "ops", "/not-understood": "ops",
    "/calls/export.csv": "ops",
    "/metrics": "ops", "/editor": "editor", "/editor/opening_hours": "editor",
    "/editor/revisions": "editor", "/admin/users": "admin",
}


async def test_nothing_answers_without_login(client: TestClient) -> None:
    for path in GET_PAGES:
        page = await client.get(path, headers={"Accept": "text/html"}, allow_redirects=False)
        api = await client.get(path, headers={"Accept": "application/json"},
                               allow_redirects=False)
        assert api.status == 401, path
        if path != "/metrics":
            assert page.status == 302 and page.headers["Location"].startswith("/login"), path
    for path in ("/editor/opening_hours", "/admin/users", "/editor/examples", "/logout"):
        assert (await client.post(path, data={}, allow_redirects=False)).status == 401
    health = await client.get("/health")
    assert health.status == 200 and (await health.json()) == {"status": "ok"}


async def test_each_role_sees_its_pages_and_no_more(client: TestClient) -> None:
    for role in ROLES:
        assert await login(client, role) == 303
        for path, needed in GET_PAGES.items():
            response = await client.get(path)
            allowed = ROLES.index(role) >= ROLES.index(needed)
            assert response.status == (200 if allowed else 403), (role, path)


async def test_login_refusals_and_rate_limit(client: TestClient) -> None:
    assert await login(client, "ops", "wrong password!") == 401
    assert await login(client, "gone") == 401  # disabled account
    assert await login(client, "nobody") == 401
    no_csrf = await client.post("/login", data={"username": "ops", "password": PASSWORD},
                                allow_redirects=False)
    assert no_csrf.status == 403
    statuses = [await login(client, "editor", "wrong password!") for _ in range(6)]
    assert statuses[-1] == 429
    assert await login(client, "editor") == 429  # even the right password waits


async def test_forms_without_csrf_are_refused(client: TestClient) -> None:
    await login(client, "admin")
    token = await page_csrf(client)
    for path, data in (("/admin/users", {"action": "add", "username": "x", "role": "ops",
                                         "password": PASSWORD}),
                       ("/editor/opening_hours", {"action": "preview", "answer": "x"}),
                       ("/logout", {})):
        assert (await client.post(path, data=data, allow_redirects=False)).status == 403
        wrong = await client.post(path, data={**data, "csrf_token": token[:-2] + "xx"},
                                  allow_redirects=False)
        assert wrong.status == 403
    assert (await client.get("/")).status == 200  # still logged in: nothing happened


async def test_cookies_are_httponly_and_samesite(client: TestClient) -> None:
    page = await client.get("/login")
    response = await client.post("/login", data={
        "username": "ops", "password": PASSWORD, "csrf_token": csrf_of(await page.text())},
        allow_redirects=False)
    cookie = response.cookies["callbot_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"


async def test_admin_manages_users_with_audit(client: TestClient) -> None:
    await login(client, "admin")
    token = await page_csrf(client, "/admin/users")
    added = await client.post("/admin/users", data={
        "csrf_token": token, "action": "add", "username": "claire", "role": "editor",
        "password": PASSWORD}, allow_redirects=False)
    assert added.status == 303
    short = await client.post("/admin/users", data={
        "csrf_token": token, "action": "add", "username": "bob", "role": "ops",
        "password": "short"})
    assert short.status == 422 and "10 characters" in await short.text()
    await client.post("/admin/users", data={"csrf_token": token, "action": "disable",
                                            "username": "claire"})
    page = await (await client.get("/admin/users")).text()
    assert "user.add" in page and "user.disable" in page and "claire" in page
    assert await login(client, "claire") == 401


async def test_dashboard_shows_logged_calls(client: TestClient, web_settings: Settings,
                                            brain: Brain) -> None:
    writer = CallLogWriter(web_settings.store).start()
    call_id = scripted_call(brain, writer, ["les horaires de la mairie", "zorglub blabla"],
                            caller="0612345678")
    await asyncio.to_thread(writer.close)
    await login(client, "ops")
    day = "2026-12-01"
    dashboard = await (await client.get(f"/?from={day}&to={day}")).text()
    assert "opening_hours" in dashboard and "zorglub blabla" in dashboard
    listing = await (await client.get(f"/calls?from={day}&to={day}&outcome=abandoned")).text()
    assert call_id in listing and "0612345678" not in listing
    period = f"from={day}&to={day}"
    for query, shown in ((f"channel=test&intent=opening_hours&{period}", True),
                         (f"channel=sip&{period}", False),
                         (f"intent=school_canteen&{period}", False),
                         (f"outcome=resolved&{period}", False)):
        assert (call_id in await (await client.get(f"/calls?{query}")).text()) is shown, query
    detail = await (await client.get(f"/calls/{call_id}")).text()
    assert "les horaires de la mairie" in detail and "opening_hours" in detail
    export = await client.get(f"/calls/export.csv?from={day}&to={day}")
    rows = (await export.text()).splitlines()
    assert rows[0].startswith("id,channel") and call_id in rows[1] and len(rows) == 2
    assert (await client.get("/calls/nope")).status == 404
    assert (await client.get("/calls?from=yesterday")).status == 400
    metrics = await (await client.get("/metrics")).text()
    assert 'callbot_calls_total{outcome="abandoned"} 1' in metrics


async def test_calls_in_progress_show_live(client: TestClient, web_settings: Settings,
                                           brain: Brain) -> None:
    writer = CallLogWriter(web_settings.store).start()
    conversation = brain.conversation()
    conversation.channel = "sip"
    conversation.sinks.append(writer)
    conversation.start()
    conversation.hear("les horaires de la mairie")
    await login(client, "ops")
    assert 'src="/live"' in await (await client.get("/")).text()
    await _wait_for(lambda: writer.written >= 2, 30)  # call opened, first turn
    live = await client.get("/live")
    page = await live.text()
    assert live.headers["X-Frame-Options"] == "SAMEORIGIN"  # the dashboard frames it
    assert 'http-equiv="refresh"' in page and "1 appel(s) en cours" in page
    assert f'href="/calls/{conversation.call_id}"' in page
    conversation.close(CallOutcome.RESOLVED)
    await asyncio.to_thread(writer.close)
    assert "0 appel(s) en cours" in await (await client.get("/live")).text()


def _call(call_id: str, channel: str, at: datetime, turns: list[tuple[str, str, str]],
          outcome: str | None = "resolved", reason: str | None = None) -> list[dict]:
    """The call log's records of one call: (caller text, intent, action) per turn."""
    records: list[dict] = [{"type": "call_opened", "call_id": call_id, "seq": 1,
                            "at": at.isoformat(), "channel": channel, "caller": "c0ffee"}]
    for i, (text, intent, action) in enumerate(turns, 2):
        records.append({"type": "turn", "call_id": call_id, "seq": i,
                        "at": (at + timedelta(seconds=10 * i)).isoformat(), "caller_text": text,
                        "intent": intent, "confidence": 0.91, "action": action,
                        "kb_entry": intent if action == "answer" else None, "kb_revision": "r1",
                        "bot_text": "…", "transfer_reason": reason if action == "transfer"
                        else None, "latency_ms": 420.0, "latencies": None})
    if outcome:
        records.append({"type": "call_closed", "call_id": call_id, "seq": len(records) + 1,
                        "at": (at + timedelta(seconds=90)).isoformat(), "outcome": outcome,
                        "transfer_reason": reason, "detail": ""})
    return records


async def _log(engine: AsyncEngine, *calls: list[dict]) -> None:
    async with engine.begin() as connection:
        await apply_records(connection, [r for call in calls for r in call])


def _text(html: str) -> str:
    """A page as read: tags out, spaces collapsed."""
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace("&#39;", "'")
    return re.sub(r" ([.,])", r"\1", text)


def _section(html: str, title: str, next_title: str) -> str:
    return html.split(title, 1)[1].split(next_title, 1)[0]


def test_every_code_of_the_call_log_has_french_words() -> None:
    assert set(wording.OUTCOMES) == {*map(str, CallOutcome), wording.IN_PROGRESS}
    assert set(wording.ACTIONS) == set(map(str, TurnAction))
    assert set(wording.TRANSFER_REASONS) == set(map(str, TransferReason))
    assert set(wording.LINE_EVENTS) == set(map(str, LineEventKind))
    assert set(wording.DIALOGUE) == {*DIALOGUE_INTENTS, NLU_FALLBACK}
    words = wording.Wording({"birth_declaration": "La déclaration de naissance"})
    assert words.reason("failure:stt") == "panne (stt)" and words.outcome(None) == "en cours"
    assert words.topic("removed_topic") == "removed_topic" and not words.known("removed_topic")


async def test_pages_speak_french_and_count_phone_calls_only(
        client: TestClient, web_settings: Settings, engine: AsyncEngine) -> None:
    """Topics by their title, outcomes and actions in French; test calls (chat, the browser
    phone) in no figure, in the call list on demand with a badge; rollups alike."""
    day = local_today(web_settings) - timedelta(days=2)  # over: its figures are rolled up
    at = datetime.combine(day, datetime.min.time()) + timedelta(hours=10)
    now = datetime.now(ZoneInfo(web_settings.timezone)).replace(tzinfo=None)
    await _log(engine,
               _call("phone-1", "sip", at, [("bonjour", "greet", "reprompt"),
                                            ("mon bébé est né hier", "birth_declaration", "answer"),
                                            ("au revoir", "goodbye", "hangup")]),
               _call("phone-2", "sip", at + timedelta(minutes=5),
                     [("le truc d'avant", "removed_topic", "answer"),
                      ("un agent", "request_human", "transfer")], "transferred", "caller_asked"),
               _call("chat-1", "chat", at + timedelta(minutes=9),
                     [("ma carte d'identité", "id_card_passport", "answer")], "abandoned"),
               _call("browser-1", "browser", now - timedelta(minutes=1),
                     [("vous ouvrez quand", "opening_hours", "answer")], outcome=None))
    await login(client, "ops")
    period = f"from={day}&to={day}"
    page = await (await client.get(f"/?{period}")).text()
    asked = _section(page, "Sujets les plus demandés", "Non compris")
    assert "La déclaration de naissance</span> <span class=\"code\">birth_declaration" in asked
    assert "removed_topic" in asked  # a topic removed since: its code name
    for not_a_topic in ("greet", "goodbye", "request_human", "bonjour", "au revoir"):
        assert not_a_topic not in asked, not_a_topic
    assert "carte d" not in asked  # the chat call's topic counts nowhere
    figures = _text(_section(page, "<h2>Période</h2>", "30 derniers jours"))
    assert "Appels 2 " in figures and "Réglés par le robot 50%" in figures
    assert "Transférés à un agent 50%" in figures and "Raccrochés 0%" in figures
    assert "réglé par le robot" in page and "resolved" not in _text(page)  # the legend

    overview = await queries.overview(engine, local_today(web_settings), day, day)
    assert overview.period.outcomes == {"resolved": 1, "transferred": 1}
    assert dict(overview.topics) == {"birth_declaration": 1, "removed_topic": 1}
    async with engine.begin() as connection:  # a day rolled up before test calls were left
        await connection.execute(daily_rollups.delete())  # out: counted again
        await connection.execute(daily_rollups.insert(), [
            {"day": day.isoformat(), "kind": "done", "key": "", "n": 0},
            {"day": day.isoformat(), "kind": "outcome", "key": "abandoned", "n": 1}])
    again = await queries.overview(engine, local_today(web_settings), day, day)
    assert again.period.outcomes == {"resolved": 1, "transferred": 1}

    listing = await (await client.get(f"/calls?{period}")).text()
    assert "phone-1" in listing and "phone-2" in listing and "chat-1" not in listing
    assert "La déclaration de naissance" in listing  # the call's first topic
    assert "transféré à un agent" in listing and "l&#39;appelant a demandé une personne" in listing
    assert '<option value="transfer_failed">transfert échoué</option>' in listing
    tests = await (await client.get(f"/calls?{period}&kind=test")).text()
    assert "chat-1" in tests and "phone-1" not in tests and 'class="badge"' in tests
    assert "raccroché" in tests
    assert "chat-1" in await (await client.get(f"/calls?{period}&channel=chat")).text()
    assert (await client.get("/calls?kind=robots")).status == 400
    detail = _text(await (await client.get("/calls/phone-1")).text())
    assert "issue réglé par le robot" in detail and "relance · compris comme : bonjour" in detail
    assert "réponse · compris comme : La déclaration de naissance birth_declaration" in detail
    assert "fin de l'appel · compris comme : au revoir" in detail
    live = await (await client.get("/live")).text()
    assert "1 appel(s) en cours" in live and 'class="badge"' in live
    assert "Les horaires d&#39;ouverture de la mairie" in live


async def test_empty_dashboard_says_how_to_place_a_first_call(
        client: TestClient, web_settings: Settings, engine: AsyncEngine) -> None:
    first_call = ("Aucun appel pour l'instant. Appelez le standard, ou essayez le robot depuis "
                  "la page « Essayer le robot » (/phone), ou en terminal : callbot chat --record.")
    await login(client, "ops")
    page = await (await client.get("/")).text()
    assert first_call in _text(page) and "<svg" not in page and 'href="/phone"' in page
    now = datetime.now(ZoneInfo(web_settings.timezone)).replace(tzinfo=None)
    await _log(engine, _call("chat-1", "chat", now - timedelta(minutes=5),
                             [("les horaires", "opening_hours", "answer")]))
    page = await (await client.get("/")).text()  # a test call is no first call
    assert first_call in _text(page) and 'href="/calls?kind=test"' in page
    await _log(engine, _call("phone-1", "sip", now - timedelta(minutes=3),
                             [("les horaires", "opening_hours", "answer")]))
    page = await (await client.get("/")).text()
    assert first_call not in _text(page) and "<svg" in page


async def test_add_as_example_menu_has_no_default(
        client: TestClient, web_settings: Settings, engine: AsyncEngine) -> None:
    now = datetime.now(ZoneInfo(web_settings.timezone)).replace(tzinfo=None)
    await _log(engine, _call("phone-1", "sip", now - timedelta(minutes=5),
                             [("zorglub le vélo rail", "nlu_fallback", "clarify")], "abandoned"))
    await login(client, "editor")
    page = await (await client.get("/not-understood")).text()
    menu = page.split('<select name="intent"', 1)[1].split("</select>", 1)[0]
    assert menu.startswith(' required><option value="" selected>choisir un sujet…</option>')
    assert '<option value="birth_declaration">La déclaration de naissance</option>' in menu
    assert "rien de sûr" in page  # the fallback, as "understood as"
    examples = web_settings.data_dir / "nlu" / "editor.yml"
    before = examples.read_text("utf-8") if examples.exists() else None
    token = csrf_of(page)
    refused = await client.post("/editor/examples", data={
        "csrf_token": token, "intent": "", "text": "zorglub le vélo rail"},
        allow_redirects=False)
    assert refused.status == 400 and "choose a topic" in await refused.text()
    assert (examples.read_text("utf-8") if examples.exists() else None) == before


async def test_faq_list_shows_slots_readable(client: TestClient) -> None:
    await login(client, "editor")
    page = await (await client.get("/editor?q=opening_hours")).text()
    assert "«[ouvert ou fermé maintenant : mairie]»" in page and "{open_now:mairie}</td>" not in page


async def test_metrics_bearer_token(aiohttp_client: object, web_settings: Settings,
                                    engine: AsyncEngine) -> None:
    settings = web_settings.model_copy(update={"web": web_settings.web.model_copy(
        update={"metrics_token": "s3cret"})})
    client = await aiohttp_client(init_app(settings, engine))  # type: ignore[operator]
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 401
    ok = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert ok.status == 200 and "callbot_calls_in_progress 0" in await ok.text()


def test_users_command_line(web_settings: Settings, tmp_path: Path) -> None:
    import os
    import subprocess

    env = {**os.environ, "CALLBOT_STORE__STATE_DIR": str(web_settings.store.state_dir)}
    if web_settings.store.url:
        env["CALLBOT_STORE__URL"] = web_settings.store.url
        env["CALLBOT_STORE__SCHEMA_NAME"] = web_settings.store.schema_name or ""

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(["callbot", "users", *args], input=stdin, text=True, env=env,
                              capture_output=True, timeout=60, check=False)

    assert run("add", "marie", "--role", "editor", "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    duplicate = run("add", "marie", "--password-stdin", stdin=PASSWORD + "\n")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    assert run("passwd", "marie", "--password-stdin", stdin="x\n").returncode == 2
    assert run("passwd", "marie", "--password-stdin", stdin="another long one\n").returncode == 0
    assert run("disable", "marie").returncode == 0
    assert "marie\teditor\tdisabled" in run("list").stdout


async def test_health_is_503_while_postgresql_is_cut_then_200_again(
        aiohttp_client: object, small_data: Path, nlu_cache: Path, tmp_path: Path) -> None:
    """A load balancer must take the web app out of rotation while its database is unreachable
    (a TCP relay to the real PostgreSQL is switched off mid-run) and back in once it returns."""
    proxy = _Proxy()
    store = make_store_settings("postgresql", tmp_path / "state")
    store = store.model_copy(update={"url": PG_URL.replace(":5432/", f":{proxy.port}/")})
    engine = engine_from_settings(store)
    try:
        await migrate(engine, store.schema_name)
        settings = Settings(data_dir=small_data, nlu={"cache_dir": nlu_cache}, store=store)
        client = await aiohttp_client(init_app(settings, engine))  # type: ignore[operator]
        assert (await client.get("/health")).status == 200
        proxy.cut()
        cut = await client.get("/health")
        assert cut.status == 503 and (await cut.json()) == {"status": "database unreachable"}
        proxy.restore()
        statuses = []
        for _ in range(20):  # the pool drops its dead connections, then answers again
            statuses.append((await client.get("/health")).status)
            if statuses[-1] == 200:
                break
            await asyncio.sleep(0.25)
        assert statuses[-1] == 200, statuses
    finally:
        proxy.cut()
        await engine.dispose()
        await _drop_schema(store.schema_name)
