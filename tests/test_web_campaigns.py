"""The campaign pages on SQLite and PostgreSQL: who may see and do what, CSRF, a list uploaded
with bad rows, the live totals as results are written through the store, the CSV, the audit,
and a run started and paused from the page over the fake dialer (everyone says « oui »).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.campaigns.fake_dialer import Answer, FakeDialer
from callbot.campaigns.model import ContactStatus, Result
from callbot.campaigns.scheduler import Save
from callbot.config import Settings
from callbot.kb.town_data.sheets import write_table
from callbot.store import campaign_progress as progress
from callbot.store.accounts import GRANTS, ROLES, User, add_user, recent_audit
from callbot.store.campaigns import get_campaign, list_campaigns, load_contacts, status_counts
from callbot.web.app import init_app
from tests.test_web import PASSWORD, client, engine, login, page_csrf, small_data, web_settings  # noqa: F401

GOOD = ("Nom;Téléphone;Date du RDV\nMadame Martin;06 12 34 56 78;lundi\n"
        "Monsieur Durand;0033 7 98 76 54 32;mardi\n")
BAD_ROWS = ("Monsieur Sans;;mercredi\n"  # line 4: no number
            "Mister Brussels;+32 2 123 45 67;jeudi\n"  # line 5: foreign
            "Madame Double;06.12.34.56.78;vendredi\n")  # line 6: the same as line 2
FORM = {"name": "Canicule juillet", "kind": "reminder", "callback": "02 40 12 34 00",
        "message": "Bonjour {nom}, votre passeport est prêt : venez {date_du_rdv}.",
        "window_start": "09:00", "window_end": "19:00"}
NOW = datetime(2026, 7, 1, 10, 0)


@pytest.fixture
async def agent(engine: AsyncEngine) -> AsyncEngine:  # noqa: F811
    """The engine with a CCAS agent's account (role ``campaigns``) beside the others."""
    await add_user(engine, "ccas", PASSWORD, "campaigns")
    return engine


def upload(token: str, content: str | bytes, filename: str = "registre.csv",
           action: str = "create", **fields: str) -> FormData:
    data = FormData()
    for name, value in {**FORM, **fields, "action": action, "csrf_token": token}.items():
        data.add_field(name, value)
    body = content.encode("utf-8") if isinstance(content, str) else content
    data.add_field("list", body, filename=filename, content_type="application/octet-stream")
    return data


async def create(client: TestClient, content: str = GOOD + BAD_ROWS, **fields: str) -> str:  # noqa: F811
    token = await page_csrf(client, "/campaigns/new")
    return await (await client.post("/campaigns/new", data=upload(token, content, **fields))).text()


def test_the_campaigns_role_sits_beside_the_ladder() -> None:
    assert ROLES == ("ops", "editor", "admin", "campaigns")
    agent_ = User(1, "ccas", "campaigns")
    assert agent_.can("ops") and agent_.can("campaigns") and not agent_.can("editor")
    assert not User(2, "e", "editor").can("campaigns") and User(3, "a", "admin").can("campaigns")
    assert GRANTS["editor"] == {"ops", "editor"}  # the ladder as it was


async def test_roles_see_and_do_what_they_may(client: TestClient, agent: AsyncEngine) -> None:  # noqa: F811
    await login(client, "ccas")
    assert "ligne 4" in await create(client)
    campaign_id = (await list_campaigns(agent))[0].id
    one = f"/campaigns/{campaign_id}"
    html = await (await client.get(one)).text()
    assert "Madame Martin" in html and "06 •• •• •• 78" in html and "06 12 34 56 78" not in html
    assert '<a href="/campaigns">Campagnes</a>' in html  # the nav link
    assert (await client.get("/editor")).status == 403  # a CCAS agent does not edit the FAQ
    assert (await client.get("/messages")).status == 200  # callback tasks arrive there
    for role in ("ops", "editor"):
        await login(client, role)
        listing = await client.get("/campaigns")
        assert listing.status == 200 and "Canicule juillet" in await listing.text()
        page = await client.get(one)
        text = await page.text()
        assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
        assert "Madame Martin" not in text and "06 •• •• •• 78" in text and "Durand" not in text
        assert "Nouvelle campagne" not in await listing.text() and "/start" not in text
        token = await page_csrf(client, "/campaigns")
        assert (await client.get("/campaigns/new")).status == 403
        assert (await client.get(one + ".csv")).status == 403
        for action in ("start", "pause", "audio"):
            refused = await client.post(f"{one}/{action}", data={"csrf_token": token})
            assert refused.status == 403, (role, action)
        assert (await client.post("/campaigns/new", data=upload(token, GOOD))).status == 403
    assert len(await list_campaigns(agent)) == 1
    await login(client, "admin")
    assert (await client.get("/campaigns/new")).status == 200
    assert "Madame Martin" in await (await client.get(one)).text()
    assert (await client.get("/campaigns/99999")).status == 404
    assert (await client.get("/campaigns/9999999999")).status == 404


async def test_forms_need_the_csrf_token(client: TestClient, agent: AsyncEngine) -> None:  # noqa: F811
    await login(client, "ccas")
    token = await page_csrf(client, "/campaigns/new")
    for wrong in ("", token[:-2] + "xx"):
        refused = await client.post("/campaigns/new", data=upload(wrong, GOOD))
        assert refused.status == 403
    assert await list_campaigns(agent) == []
    await create(client, GOOD)
    campaign_id = (await list_campaigns(agent))[0].id
    for action in ("start", "pause", "audio"):
        assert (await client.post(f"/campaigns/{campaign_id}/{action}", data={})).status == 403
    assert not [e for e in await recent_audit(agent) if e["action"].startswith("campaign.")
                and e["action"] != "campaign.create"]


async def test_an_upload_reports_every_bad_row_and_an_unusable_one_creates_nothing(
        client: TestClient, agent: AsyncEngine, tmp_path: Path) -> None:  # noqa: F811
    await login(client, "ccas")
    token = await page_csrf(client, "/campaigns/new")
    checked = await client.post("/campaigns/new", data=upload(token, GOOD + BAD_ROWS, action="check"))
    html = await checked.text()
    assert checked.status == 200 and checked.headers["Cache-Control"] == "no-store"
    assert "3 ligne(s) écartée(s)" in html
    assert "ligne 4 : no phone number" in html and "ligne 5 : " in html
    assert "ligne 6 : duplicate: the same number is already on line 2" in html
    assert "« Bonjour Madame Martin, votre passeport est prêt : venez lundi. »" in html
    assert "ceci est un appel automatisé de la mairie de Villebrune" in html
    assert await list_campaigns(agent) == []  # « Vérifier » stores nothing
    rows = [line.split(";") for line in (GOOD + BAD_ROWS).splitlines()]
    for suffix in (".xlsx", ".ods"):  # the spreadsheets, through the same importer
        sheet = tmp_path / f"registre{suffix}"
        write_table(sheet, rows[0], rows[1:])
        checked = await client.post("/campaigns/new", data=upload(
            token, sheet.read_bytes(), sheet.name, action="check"))
        html = await checked.text()
        assert checked.status == 200 and "3 ligne(s) écartée(s)" in html, suffix
        assert "ligne 4 : no phone number" in html and "venez lundi" in html, suffix
    for content, filename, why in (
            ("Nom;Adresse\nMartin;rue\n", "registre.csv", "ligne 1"),  # no phone column
            (GOOD, "registre.txt", ".csv, .xlsx ou .ods"),
            ("Nom;Téléphone\nMartin;06 12 34 56 78\n", "registre.csv", "{date_du_rdv}"),
            ("Nom;Téléphone;Date du RDV\nSans;;lundi\n", "registre.csv", "Aucune ligne utilisable"),
            ("\x00\x01PK garbage", "registre.xlsx", "illisible")):
        refused = await client.post("/campaigns/new", data=upload(token, content, filename))
        assert refused.status == 400 and why in await refused.text(), (filename, content)
    for fields, why in (({"callback": "+32 2 123 45 67"}, "Numéro de rappel"),
                        ({"window_end": "08:00"}, "après le début"),
                        ({"kind": "question"}, "a besoin de sa question"),
                        ({"name": " "}, "Donnez un nom")):
        refused = await client.post("/campaigns/new", data=upload(token, GOOD, **fields))
        assert refused.status == 400 and why in await refused.text(), fields
    assert await list_campaigns(agent) == []
    html = await create(client)
    assert "créée : 2 personne(s) à appeler sur 5 ligne(s)" in html and "ligne 6 : " in html
    (row,) = await list_campaigns(agent)
    assert (row.name, row.kind, row.created_by, row.source) == ("Canicule juillet", "reminder",
                                                               "ccas", "registre.csv")
    assert row.callback_number == "+33240123400" and row.fields == ("date_du_rdv",)
    assert sum((await status_counts(agent, row.id)).values()) == 2
    entry = next(e for e in await recent_audit(agent) if e["action"] == "campaign.create")
    assert (entry["username"], entry["target"]) == ("ccas", f"campaign {row.id}")
    assert "2 people, 3 row(s) left out" in entry["detail"]
    assert "Martin" not in str(entry) and "06" not in entry["detail"]


async def results(engine: AsyncEngine, campaign_id: int,  # noqa: F811
                  outcomes: list[tuple[ContactStatus, Result, int]]) -> None:
    """Each contact in turn claimed, then saved with its status, as the runner does."""
    campaign = await get_campaign(engine, campaign_id)
    contacts, people = await load_contacts(engine, campaign_id)
    for contact, (status, result, attempts) in zip(contacts, outcomes, strict=False):
        tried = replace(contact, attempts=attempts)
        assert await progress.claim(engine, campaign_id, tried, NOW)
        await progress.apply(engine, campaign, [Save(replace(tried, status=status), result)],  # type: ignore[arg-type]
                             people, NOW, "test")


async def test_the_live_page_and_the_csv_follow_the_store(client: TestClient,  # noqa: F811
                                                          agent: AsyncEngine) -> None:
    await login(client, "ccas")
    people = "".join(f"Personne {n};06 12 34 56 {n:02d};lundi\n" for n in range(10, 16))
    await create(client, "Nom;Téléphone;Date du RDV\n" + people, kind="heatwave")
    campaign_id = (await list_campaigns(agent))[0].id
    one = f"/campaigns/{campaign_id}"
    html = await (await client.get(one)).text()
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "<td>6</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td>" in html
    assert "Tout va bien pour vous ? Dites oui ou non, ou tapez 1 ou 2." in html
    assert "callbot campaign run" in html and "Lancer les appels" not in html  # no dialer here
    assert "Écoute impossible" in html  # no Piper voice in the tests: said, not hidden
    token = await page_csrf(client, one)
    for action, status in (("start", 409), ("audio", 501)):
        refused = await client.post(f"{one}/{action}", data={"csrf_token": token})
        assert refused.status == status, action
    await results(agent, campaign_id, [
        (ContactStatus.FINE, Result.FINE, 1), (ContactStatus.CALLBACK, Result.CALLBACK, 1),
        (ContactStatus.NO_ANSWER, Result.NO_ANSWER, 3), (ContactStatus.VOICEMAIL, Result.VOICEMAIL, 3),
        (ContactStatus.OPTED_OUT, Result.OPTED_OUT, 1)])
    html = await (await client.get(one)).text()
    # people, reached, fine, needs help, no answer, voicemail, refused, in a call
    assert "<td>6</td><td>3</td><td>1</td><td>1</td><td>1</td><td>1</td><td>1</td><td>0</td>" in html
    assert "à rappeler par un agent" in html and "répondeur" in html
    listing = await (await client.get("/campaigns")).text()
    assert "Canicule : tout va bien ?" in listing and "09:00–19:00" in listing
    export = await client.get(one + ".csv")
    assert export.status == 200 and export.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO((await export.read()).decode("utf-8-sig"))))
    assert rows[0] == ["ligne", "nom", "numéro", "statut", "code", "essais"]
    assert rows[1] == ["2", "Personne 10", "06 •• •• •• 10", "tout va bien", "fine", "1"]
    assert rows[3][3:] == ["pas de réponse", "no_answer", "3"] and rows[6][4] == "pending"
    assert not any("12 34 56" in cell for row in rows for cell in row)
    entry = (await recent_audit(agent, 1))[0]
    assert (entry["username"], entry["action"], entry["target"]) == (
        "ccas", "campaign.export", f"campaign {campaign_id}")


@contextlib.asynccontextmanager
async def slow_dialer(settings: Settings) -> AsyncIterator[FakeDialer]:
    """Everyone answers « oui », each call taking a little over half a second."""
    yield FakeDialer(lambda number, attempt: Answer(replies=("oui",)), datetime.now, call_sec=0.3)


async def until(engine: AsyncEngine, campaign_id: int, done: object) -> dict[str, int]:  # noqa: F811
    """The counts once ``done(status, counts)`` holds (10 s at most)."""
    for _ in range(200):
        status = (await get_campaign(engine, campaign_id)).status  # type: ignore[union-attr]
        counts = await status_counts(engine, campaign_id)
        if done(status, counts):  # type: ignore[operator]
            return counts
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {status}: {counts}")


async def test_a_pause_lets_the_call_in_progress_end_and_a_start_resumes(
        aiohttp_client: object, web_settings: Settings, agent: AsyncEngine) -> None:  # noqa: F811
    settings = web_settings.model_copy(update={"fixed_now": "2026-07-01T10:00"})  # a Wednesday
    app_client = await aiohttp_client(init_app(settings, agent, campaign_dialer=slow_dialer))  # type: ignore[operator]
    await login(app_client, "ccas")
    await create(app_client, kind="heatwave")
    campaign_id = (await list_campaigns(agent))[0].id
    one = f"/campaigns/{campaign_id}"
    token = await page_csrf(app_client, one)
    started = await app_client.post(f"{one}/start", data={"csrf_token": token}, allow_redirects=False)
    assert started.status == 303 and started.headers["Location"] == one
    assert "Suspendre" in await (await app_client.get(one)).text()
    await until(agent, campaign_id, lambda status, counts: counts.get("in_call"))  # the first
    paused = await app_client.post(f"{one}/pause", data={"csrf_token": token}, allow_redirects=False)
    assert paused.status == 303
    assert "les appels en cours se terminent" in await (await app_client.get(one)).text()
    counts = await until(agent, campaign_id, lambda status, counts: status == "paused")
    # the call in progress heard to the end; the second one not placed (unless it was already)
    assert counts in ({"fine": 1, "pending": 1}, {"fine": 2}), counts
    html = await (await app_client.get(one)).text()
    assert "suspendue" in html and "Lancer les appels" in html
    await app_client.post(f"{one}/start", data={"csrf_token": token})
    counts = await until(agent, campaign_id, lambda status, counts: status == "finished")
    assert counts == {"fine": 2}
    html = await (await app_client.get(one)).text()
    assert "terminée" in html and "Lancer les appels" not in html and "http-equiv" not in html
    assert (await app_client.post(f"{one}/start", data={"csrf_token": token})).status == 409
    actions = [(e["username"], e["action"], e["target"]) for e in await recent_audit(agent)
               if e["action"] in ("campaign.start", "campaign.pause")]
    assert actions == [("ccas", f"campaign.{a}", f"campaign {campaign_id}")
                       for a in ("start", "pause", "start")]  # newest first
    assert not any("+33" in str(e) or "Martin" in str(e) for e in await recent_audit(agent))
