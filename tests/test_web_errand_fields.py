"""The editor's errand fields through HTTP (issue 15, item 4): which services take appointments
and with which slot length, where a service's messages go, which topic's link goes by SMS.
Saved through the knowledge base's save path (a revision, the files rewritten line by line)
and picked up by a running bot on its next turn; wrong values refused in French beside the
field, nothing written."""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from callbot.brain import Brain
from callbot.config import Settings
from callbot.errands.connectors.factory import Connectors
from callbot.errands.runner import ErrandRunner
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import Appointments
from callbot.web.errand_fields import (
    BAD_LINK,
    BAD_MINUTES,
    ServiceErrands,
    apply_service_errands,
    link_error,
    parse_service_errands,
)
from callbot.web.live_edit import topic_form
from tests.test_web import client, engine, login, small_data, web_settings  # noqa: F401
from tests.test_web_topics import post, snapshot

SCHOOL = "/editor/services/scolaire"
ENROLMENT = "je voudrais inscrire mon fils à l'école pour la rentrée"
TUESDAY_MORNING = datetime(2026, 12, 8, 10, 0)
_INPUT = re.compile(r"<input ([^>]*)>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def service_form(page: str, **changes: str | None) -> dict[str, str]:
    """The service page's form as a browser posts it (a check box only when ticked), with
    ``changes`` (``None``: a box left unticked)."""
    form: dict[str, str] = {}
    for tag in _INPUT.findall(page):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if "name" not in attributes or (attributes.get("type") == "checkbox"
                                        and " checked" not in tag):
            continue
        form[attributes["name"]] = html.unescape(attributes.get("value", ""))
    form.pop("remove", None)  # no closure removed
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


class UnusedCalendar:
    """A calendar is configured; asking for a day comes before any search."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the calendar was asked {name} before the caller said a day")


def _booking_for(bot: Brain) -> str | None:
    """The service whose booking a caller asking about school enrolment, then for a
    rendez-vous, gets (``None``: no booking, the bot answers)."""
    call = bot.conversation(lambda: TUESDAY_MORNING)
    call.errands = ErrandRunner(Connectors(calendar=UnusedCalendar()))  # type: ignore[arg-type]
    call.start()
    answer = call.hear(ENROLMENT)
    if answer.action == "clarify":  # the trimmed data make the NLU less sure: say which
        answer = call.hear("l'inscription à l'école")
    assert answer.parse and answer.parse.intent.name == "school_enrolment", answer.text
    asked = call.hear("je voudrais prendre rendez-vous")
    errand = call.state.errand
    return getattr(getattr(errand, "service", None), "id", None) if asked.text == \
        "Quel jour vous arrangerait ?" else None


async def test_a_service_takes_appointments_and_its_messages_move(
        client: TestClient, web_settings: Settings) -> None:  # noqa: F811
    bot = Brain.load(web_settings)
    assert _booking_for(bot) != "scolaire"  # the school service books nothing yet
    await login(client, "editor")
    page = await (await client.get(SCHOOL)).text()
    assert 'name="appointments" value="on">' in page and 'value="20"' in page
    status, body, location = await post(client, SCHOOL, service_form(
        page, appointments="on", calendar="scolaire", slot_minutes="15",
        messages_to="inscriptions@villebrune.fr", comment="rendez-vous d'inscription"))
    assert status == 303, body
    kb_text = web_settings.knowledge_base_path.read_text("utf-8")
    block = kb_text.split("  scolaire:\n", 1)[1].split("\n\n", 1)[0]
    assert '    messages_to: "inscriptions@villebrune.fr"' in block.splitlines()[3]
    assert "    appointments:\n      calendar: scolaire\n      slot_minutes: 15" in block
    assert "    access: \"Au premier étage de la mairie, avec ascenseur.\"" in block
    service = load_knowledge_base(web_settings.knowledge_base_path).services["scolaire"]
    assert service.appointments == Appointments("scolaire", 15)
    assert service.messages_to == "inscriptions@villebrune.fr"
    assert _booking_for(bot) == "scolaire"  # the running bot, on its next turn
    revisions = await (await client.get("/editor/revisions")).text()
    assert "rendez-vous d&#39;inscription" in revisions
    page = await (await client.get(location)).text()
    assert 'name="appointments" value="on" checked>' in page
    listed = await (await client.get("/editor/services")).text()
    assert "agenda scolaire, 15 min" in listed and "inscriptions@villebrune.fr" in listed
    status, body, _ = await post(client, SCHOOL, service_form(
        page, appointments=None, messages_to=""))
    assert status == 303, body
    block = web_settings.knowledge_base_path.read_text("utf-8").split("  scolaire:\n", 1)[1]
    assert "appointments" not in block.split("\n\n", 1)[0]
    assert "messages_to" not in block.split("\n\n", 1)[0]
    service = load_knowledge_base(web_settings.knowledge_base_path).services["scolaire"]
    assert (service.appointments, service.messages_to) == (None, "")
    assert _booking_for(bot) != "scolaire"


async def test_wrong_fields_are_told_in_french_beside_them(
        client: TestClient, web_settings: Settings) -> None:  # noqa: F811
    await login(client, "editor")
    page = await (await client.get(SCHOOL)).text()
    before = snapshot(web_settings)
    cases = {  # (calendar, slot minutes, messages_to) → what the editor reads beside each field
        ("", "0", "scolaire.villebrune.fr"): {
            "calendar": "Indiquez l&#39;agenda où noter les rendez-vous",
            "slot_minutes": "« 0 » n&#39;est pas une durée de créneau : un nombre entier de "
                            "minutes, de 5 à 240.",
            "messages_to": "« scolaire.villebrune.fr » n&#39;est pas une adresse e-mail"},
        ("état civil", "vingt", "scolaire@villebrune"): {
            "calendar": "« état civil » ne peut pas être un identifiant d&#39;agenda",
            "slot_minutes": "« vingt » n&#39;est pas une durée",
            "messages_to": "« scolaire@villebrune » n&#39;est pas une adresse e-mail"},
    }
    for (calendar, minutes, address), expected in cases.items():
        refused = await client.post(SCHOOL, data=service_form(  # the page's CSRF token
            page, appointments="on", calendar=calendar, slot_minutes=minutes,
            messages_to=address))
        body = await refused.text()
        assert refused.status == 422, (calendar, minutes, address)
        beside = dict(re.findall(r'id="error-(\w+)">([^<]*)<', body))
        assert beside.keys() == expected.keys(), beside
        for name, message in expected.items():
            assert message in beside[name], (name, beside[name])
        assert "rien n&#39;a été enregistré" in body
        assert f'value="{minutes}"' in body  # what was typed stays in the form
    web_settings.errands.calendar.calendars = {"etat-civil": "etat-civil", "ccas": "ccas"}
    page = await (await client.get(SCHOOL)).text()
    assert '<option value="ccas">' in page
    status, body, _ = await post(client, SCHOOL, service_form(
        page, appointments="on", calendar="scolaire"))
    assert status == 422 and "L&#39;agenda « scolaire » n&#39;est pas dans les réglages" in body
    assert "choisissez parmi « ccas », « etat-civil »" in body
    assert snapshot(web_settings) == before


async def test_a_topic_link_is_set_checked_and_removed(
        client: TestClient, web_settings: Settings) -> None:  # noqa: F811
    await login(client, "editor")
    page = await (await client.get("/editor/school_enrolment")).text()
    before = snapshot(web_settings)
    wrong = "http://www.villebrune.fr/inscription"  # every kind of wrong: the table below
    refused = await client.post("/editor/school_enrolment", data=topic_form(page, link=wrong))
    body = await refused.text()
    beside = re.search(r'id="error-link">([^<]*)<', body)
    assert refused.status == 422 and beside
    assert "commence par https:// et n&#39;a pas d&#39;espace" in beside.group(1)
    assert f'value="{wrong}"' in body  # what was typed stays in the form
    assert snapshot(web_settings) == before
    link = "https://www.villebrune.fr/demarches/inscription-scolaire"
    saved = await client.post("/editor/school_enrolment", data=topic_form(page, link=link),
                              allow_redirects=False)
    assert saved.status == 303, await saved.text()
    text = web_settings.knowledge_base_path.read_text("utf-8")
    assert f'  school_enrolment:\n    service: scolaire\n    link: "{link}"\n' in text
    assert load_knowledge_base(web_settings.knowledge_base_path).topics[
        "school_enrolment"].link == link
    page = await (await client.get("/editor/school_enrolment")).text()
    assert f'value="{link}"' in page
    answer = await client.post("/editor/school_enrolment", data=topic_form(page, answer=(
        "L'inscription scolaire se fait d'abord au service scolaire de la mairie.")),
        allow_redirects=False)
    assert answer.status == 303  # the link kept as it was, on its own line
    assert web_settings.knowledge_base_path.read_text("utf-8").count(link) == 1
    page = await (await client.get("/editor/school_enrolment")).text()
    removed = await client.post("/editor/school_enrolment", data=topic_form(page, link=""),
                                allow_redirects=False)
    assert removed.status == 303
    assert "inscription-scolaire" not in web_settings.knowledge_base_path.read_text("utf-8")


@pytest.mark.parametrize("url, fine", [
    ("https://ants.gouv.fr/demarches/pre-demande", True),
    ("https://www.villebrune.fr/demarches?type=cni#rdv", True),
    ("https://xn--villebrne-t6a.fr/", True),
    ("", True),  # no link
    ("http://www.villebrune.fr/inscription", False),  # sent by SMS: https only
    ("https://villebrune fr", False),
    ("https://", False),
    ("www.villebrune.fr", False),
    ("https://localhost/x", False),
    ("https://[::1/x", False),
    ("https://ants.gouv.fr/pre demande", False),
])
def test_a_link_must_be_able_to_go_by_sms(url: str, fine: bool) -> None:
    assert (link_error(url) is None) is fine
    assert fine or link_error(url) == BAD_LINK.format(typed=url)


@pytest.mark.parametrize("minutes, fine", [
    ("5", True), ("20", True), ("240", True), ("", True),  # empty: the default 20
    ("4", False), ("0", False), ("241", False), ("-5", False), ("20.5", False),
    ("vingt", False), ("２０", False), ("20 min", False)])
def test_a_slot_lasts_a_whole_number_of_minutes_from_5_to_240(minutes: str, fine: bool) -> None:
    wanted, errors = parse_service_errands({"errand_fields": "1", "appointments": "on",
                                            "calendar": "etat-civil", "slot_minutes": minutes})
    assert (wanted is not None) is fine and (errors == {}) is fine
    if fine:
        assert wanted.appointments == Appointments("etat-civil", int(minutes or 20))  # type: ignore[union-attr]
    else:
        assert errors == {"slot_minutes": BAD_MINUTES.format(typed=minutes)}


def test_without_the_box_ticked_nothing_is_booked_and_nothing_checked() -> None:
    assert parse_service_errands({"errand_fields": "1", "calendar": "", "slot_minutes": "vingt"}
                                 ) == (ServiceErrands(None, ""), {})
    # a form without the fields (a page of before, a script) leaves the service's own
    assert parse_service_errands({"messages_to": "x"}) == (None, {})


INLINE = """services:
  salle:
    name: la salle des fêtes
    appointments: {calendar: salle, slot_minutes: 60}   # by the hour
    # who answers the messages
    messages_to: salle@villebrune.fr
    hours: {lundi: fermé, mardi: 9h-12h, mercredi: fermé, jeudi: fermé, vendredi: fermé,
            samedi: fermé, dimanche: fermé}
"""


def test_inline_appointments_are_rewritten_and_comments_kept(tmp_path: Path) -> None:
    from callbot.kb.model import Service

    salle = Service("salle", "la salle des fêtes", "", "", ((),) * 7,
                    appointments=Appointments("salle", 60), messages_to="salle@villebrune.fr")
    path = tmp_path / "salle.yml"
    longer = apply_service_errands(path, INLINE, salle, ServiceErrands(
        Appointments("salle", 120), "salle@villebrune.fr"))
    assert longer.splitlines()[3:6] == ["    appointments:", "      calendar: salle",
                                        "      slot_minutes: 120"]
    assert longer.splitlines()[6] == "    # who answers the messages"
    none = apply_service_errands(path, INLINE, salle, ServiceErrands(None, ""))
    assert none.splitlines() == [line for line in INLINE.splitlines()
                                 if "appointments" not in line and "messages_to" not in line]
    assert apply_service_errands(path, INLINE, salle, ServiceErrands(
        Appointments("salle", 60), "salle@villebrune.fr")) == INLINE
