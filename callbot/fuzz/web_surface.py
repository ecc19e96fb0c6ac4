"""The web app's forms and query strings, through aiohttp's test client with a session.

An input picks a route (weighted: each editor request validates the whole knowledge base,
a tenth of a second, so they are one input in a hundred), a CSRF mode and a body: form
fields, or raw bytes under a chosen content type. Any status is a clear answer except 500
(an exception escaped a handler) and a request that does not finish within
``REQUEST_TIMEOUT_SEC``.

The scratch app runs on SQLite (in /dev/shm when there is one) with the real knowledge base
and three examples per intent. Saving an example retrains the NLU (seconds): most example
inputs name no topic and are refused before that, as a hostile form would be.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from callbot.config import REPO_ROOT, Settings
from callbot.fuzz.surface import FuzzFailure, Surface
from callbot.nlu.intents import TOPIC_INTENTS
from callbot.nlu.training_data import load_training_data
from callbot.store.accounts import add_user, set_active, set_password
from callbot.store.database import engine_from_settings, migrate
from callbot.web.app import init_app
from callbot.web.kb_text import write_examples

REQUEST_TIMEOUT_SEC = 20.0
PASSWORD = "fuzzing is caring"
#: (weight out of 256, method, path, form or query fields); ``{arg}`` comes from the first field.
ROUTES = (
    (44, "POST", "/login", ("username", "password", "csrf_token", "next")),
    (1, "POST", "/editor/{arg}", ("action", "label", "answer", "details", "examples", "version",
                                  "comment")),
    (1, "POST", "/editor/{arg}/audio", ("answer", "details", "label")),
    (1, "POST", "/editor/examples", ("intent", "text")),
    (26, "POST", "/editor/revisions/{arg}/rollback", ()),
    (26, "GET", "/editor/revisions/{arg}", ()),
    (44, "GET", "/calls", ("from", "to", "page", "outcome", "channel", "intent")),
    (22, "GET", "/", ("from", "to")),
    (22, "GET", "/not-understood", ("from", "to", "outcome")),
    (22, "GET", "/calls/export.csv", ("from", "to", "outcome", "channel")),
    (26, "GET", "/calls/{arg}", ()),
    (20, "POST", "/admin/users", ("action", "username", "password", "role")),
    (1, "GET", "/editor", ("q",)),
)
_ROUTE_OF_BYTE = [i for i, route in enumerate(ROUTES) for _ in range(route[0])]
assert len(_ROUTE_OF_BYTE) == 256, "route weights must add up to 256: one per selector byte"
CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
                 "multipart/form-data", "text/plain", "application/json",
                 "application/x-www-form-urlencoded; charset=latin-1",
                 "multipart/form-data; boundary=", "application/octet-stream")
_TOPICS = sorted(TOPIC_INTENTS)


def route_index(selector: int) -> int:
    return _ROUTE_OF_BYTE[selector % 256]


def _seed(route: str, flags: int, *fields: str) -> bytes:
    index = next(i for i, r in enumerate(ROUTES) if r[2] == route)
    return bytes([_ROUTE_OF_BYTE.index(index), flags]) + "\x00".join(fields).encode()


#: Seeds of the cheap routes only: editor requests are reached by mutating the route byte
#: (tests/test_fuzz_web.py fuzzes the editor forms on their own).
SEEDS = (
    _seed("/login", 0, "editor", "wrong password", "", "/calls"),
    _seed("/editor/revisions/{arg}/rollback", 0, "1"),
    _seed("/editor/revisions/{arg}", 0, "1"),
    _seed("/calls", 0, "2026-11-01", "2026-11-30", "2", "resolved", "websocket", "greet"),
    _seed("/", 0, "2026-01-01", "2026-12-31"),
    _seed("/not-understood", 0, "2026-01-01", "2026-12-31", "error"),
    _seed("/calls/export.csv", 0, "2026-01-01", "2026-12-31", "resolved", "websocket"),
    _seed("/calls/{arg}", 0, "abc-1"),
    _seed("/admin/users", 0, "add", "agent", "a long enough password", "ops"),
    _seed("/admin/users", 4 | 8, "--xyz\r\nContent-Disposition: form-data; name=\"action\""
          "\r\n\r\nadd\r\n--xyz--\r\n"),
)
EDITOR_SEEDS = (
    _seed("/editor/{arg}", 0, "opening_hours", "preview", "Horaires",
          "La mairie est ouverte de 8h30 à 12h.", "", "", "", ""),
    _seed("/editor/{arg}", 0, "birth_declaration", "save", "Naissance",
          "Une naissance se déclare dans les 5 jours.", "", "- acte de naissance", "x", "c"),
    _seed("/editor/examples", 0, "opening hours", "vous ouvrez quand le samedi"),
    _seed("/editor", 0, "piscine"),
)
TOKENS = (b"\x00", b"%", b"%00", b"%ff", b"&", b"=", b"..", b"/", b"\r\n", b"--xyz",
          b"0001-01-01", b"9999-12-31", b"99999999999999999999", b"-1", b"1e9", b"preview",
          b"save", b"{phone:mairie}", b"{hours:", b"<script>", b"'", b'"', b"\xed\xa0\x80")


def _scratch_data(folder: Path) -> Path:
    """The real knowledge base and three examples per intent: the editor stays quick."""
    folder.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nlu_data" / "kb.yml", folder / "kb.yml")
    by_intent = load_training_data(REPO_ROOT / "nlu_data").by_intent()
    examples = {intent: [e.text for e in found[:3]] for intent, found in by_intent.items()}
    (folder / "nlu.yml").write_text(write_examples(examples), "utf-8")
    return folder


class WebTarget:
    """A scratch web app, a client logged in with ``role``, and the request made of an input."""

    def __init__(self, role: str = "admin") -> None:
        self.role = role
        memory = "/dev/shm" if Path("/dev/shm").is_dir() else None  # saves fsync files
        self._scratch = tempfile.TemporaryDirectory(prefix="callbot-fuzz-web-", dir=memory)
        self.client: TestClient | None = None
        self.csrf = ""

    async def start(self) -> None:
        root = Path(self._scratch.name)
        settings = Settings(data_dir=_scratch_data(root / "data"),
                            nlu={"cache_dir": root / "nlu-cache"},
                            store={"state_dir": root / "state", "url": None},
                            models={"tts_voice": str(root / "no-voice.onnx")})
        self.engine = engine = engine_from_settings(settings.store)
        await migrate(engine, None)
        await add_user(engine, "fuzzer", PASSWORD, self.role)
        app = init_app(settings, engine)
        self.client = TestClient(TestServer(app), timeout=aiohttp.ClientTimeout(
            total=REQUEST_TIMEOUT_SEC))
        await self.client.start_server()
        await self.login()

    async def login(self) -> None:
        """Log in, first undoing what inputs may have done to the account."""
        assert self.client is not None
        await set_password(self.engine, "fuzzer", PASSWORD)
        await set_active(self.engine, "fuzzer", True)
        page = await (await self.client.get("/login")).text()
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        await self.client.post("/login", data={"username": "fuzzer", "password": PASSWORD,
                                               "csrf_token": token}, allow_redirects=False)
        home = await (await self.client.get("/calls")).text()
        self.csrf = home.split('name="csrf_token" value="', 1)[1].split('"', 1)[0] \
            if 'name="csrf_token"' in home else ""

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        self._scratch.cleanup()

    async def feed(self, data: bytes) -> str:
        assert self.client is not None
        if len(data) < 2:
            data = data + b"\x00\x00"
        _, method, template, names = ROUTES[route_index(data[0])]
        flags, values = data[1], [v.decode("utf-8", "replace") for v in data[2:].split(b"\x00")]
        arg = values[0] if values and values[0] else _TOPICS[flags % len(_TOPICS)]
        path = template.replace("{arg}", quote(arg, safe=""))
        fields = dict(zip(names, values[1:] if "{arg}" in template else values, strict=False))
        csrf_mode = flags & 3
        if csrf_mode < 2:
            fields["csrf_token"] = self.csrf
        elif csrf_mode == 3:
            fields["csrf_token"] = values[-1]
        # The session itself, not TestClient.get/post: those keep every response until close.
        session, url = self.client.session, self.client.make_url(path)
        try:
            if method == "GET":
                response = await session.get(url, params=fields, allow_redirects=False)
            elif flags & 4:  # raw body under a chosen content type
                response = await session.post(
                    url, data=data[2:], allow_redirects=False,
                    headers={"Content-Type": CONTENT_TYPES[(flags >> 3) % len(CONTENT_TYPES)],
                             "X-CSRF-Token": self.csrf if csrf_mode < 2 else ""})
            else:
                response = await session.post(url, data=fields, allow_redirects=False)
            await response.read()
            response.release()
        except TimeoutError as exc:
            raise FuzzFailure(f"{method} {template} did not answer in "
                              f"{REQUEST_TIMEOUT_SEC:.0f} s") from exc
        if response.status >= 500 and response.status != 501:
            raise FuzzFailure(f"{method} {template} answered {response.status}")
        if response.headers.get("Location") == "/login" or response.status == 401:
            await self.login()  # an input logged us out (e.g. disabled or re-keyed the admin)
        return f"{template} {response.status}"


def web_surface(target: WebTarget) -> Surface:
    """``target`` must be started (``await target.start()``) before the first input."""
    return Surface("web", target.feed, SEEDS, TOKENS, close=target.close, concurrency=4,
                   hang_sec=REQUEST_TIMEOUT_SEC)
