"""Hostile forms and query strings on the web app, through aiohttp's test client.

A scratch app (SQLite, the real knowledge base; see callbot/fuzz/web_surface.py) with a
logged-in session: every answer must be a status the app chose (400, 403, 404, 422…),
never a 500 from an exception that escaped a handler, and never a request that hangs.
The editor's forms get their own test with an editor session: each of those requests
validates the whole knowledge base, so they are fewer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbot.fuzz.surface import Surface
from callbot.fuzz.web_surface import EDITOR_SEEDS, WebTarget, web_surface
from callbot.nlu.intents import TOPIC_INTENTS
from tests.fuzz_support import LOOP, examples, feed, mutated, quiet_refusals  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # aiohttp on torn multipart
FIELD_TEXT = st.text(max_size=80) | st.sampled_from([
    "{phone:mairie}", "{hours:etat_civil}", "{phone:", "9" * 40, "8h30-12h", "www.x.fr",
    "1er", "12,5 %", "\u0000", "\ud7ff", "<script>", " " * 3, "a" * 2000])


def _target(role: str) -> Iterator[Surface]:
    target = WebTarget(role)
    LOOP.run_until_complete(target.start())
    surface = web_surface(target)
    yield surface
    LOOP.run_until_complete(target.close())


@pytest.fixture(scope="module")
def admin_web() -> Iterator[Surface]:
    yield from _target("admin")


@pytest.fixture(scope="module")
def editor_web() -> Iterator[Surface]:
    yield from _target("editor")


@examples(600)
@given(data=st.data())
def test_every_route_mutated(admin_web: Surface, data: st.DataObject) -> None:
    feed(admin_web, data.draw(mutated(admin_web)))


@examples(25)
@given(data=st.data())
def test_editor_forms_mutated(editor_web: Surface, data: st.DataObject) -> None:
    feed(editor_web, data.draw(mutated(editor_web, EDITOR_SEEDS)))


@examples(20)
@given(topic=st.sampled_from(sorted(TOPIC_INTENTS)) | st.text(max_size=20),
       action=st.sampled_from(["preview", "save", ""]), fields=st.lists(FIELD_TEXT, min_size=3,
                                                                      max_size=3))
def test_editor_topic_form(editor_web: Surface, topic: str, action: str,
                           fields: list[str]) -> None:
    editor_post = bytes([next(b for b in range(256) if _route(b) == "/editor/{arg}"), 0])
    feed(editor_web, editor_post + "\x00".join([topic, action, *fields]).encode(
        "utf-8", "surrogatepass"))


def _route(selector: int) -> str:
    from callbot.fuzz.web_surface import ROUTES, route_index

    return ROUTES[route_index(selector)][2]
