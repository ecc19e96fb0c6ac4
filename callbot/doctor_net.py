"""``callbot doctor``'s network checks: listening ports free, SIP peers resolvable, Rasa up.

A taken port names the process holding it when ``/proc`` lets us see it (our own user's
processes, or all of them as root).
"""

from __future__ import annotations

import errno
import json
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from callbot.config import Settings, SipSettings
from callbot.doctor_check import Check, Status, one_line

RASA_TIMEOUT_SEC = 3.0
#: ``/proc/net/*`` socket states: TCP_LISTEN, and UDP's "unconnected" (a bound socket).
_BOUND_STATES = {"tcp": "0A", "udp": "07"}
#: sip:user@host:port;params, sips:host — the host part, an IPv6 one in brackets.
_SIP_URI = re.compile(r"^sips?:(?:[^@;]*@)?(?P<host>\[[^\]]+\]|[^:;?>]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Listener:
    """A port ``callbot serve`` (or ``callbot web``) will bind, and the setting naming it."""

    setting: str  # "voice.websocket_port"
    host: str
    port: int
    protocol: str  # "tcp" or "udp"
    required: bool = True  # False: only needed when the feature is switched on

    @property
    def env(self) -> str:
        return "CALLBOT_" + self.setting.upper().replace(".", "__")


def listeners(settings: Settings) -> list[Listener]:
    """What the configured services listen on; port 0 (off, or picked at start) is left out."""
    voice, sip, web = settings.voice, settings.sip, settings.web
    found = [Listener("voice.websocket_port", voice.host, voice.websocket_port, "tcp"),
             Listener("voice.audiosocket_port", voice.host, voice.audiosocket_port, "tcp"),
             Listener("web.port", web.host, web.port, "tcp", required=web.enabled)]
    if sip.enabled:
        found.append(Listener("sip.port", sip.host, sip.port, "udp"))
    return [listener for listener in found if listener.port]


def check_listeners(settings: Settings) -> list[Check]:
    """Two settings on one port, then each port bound for a moment."""
    checks, seen = [], {}
    for listener in listeners(settings):
        other = seen.setdefault((listener.port, listener.protocol), listener)
        if other is listener:
            checks.append(check_port(listener))
        else:
            checks.append(Check(Status.FAIL, f"{other.setting} and {listener.setting} are both "
                                             f"{listener.port}/{listener.protocol}",
                                f"give {listener.setting} another port ({listener.env})"))
    return checks


def check_port(listener: Listener) -> Check:
    where = f"{listener.host}:{listener.port}/{listener.protocol}"
    what = f"{listener.setting}: {where}"
    error = bind_error(listener.host, listener.port, listener.protocol)
    if error is None:
        return Check(Status.OK, f"{what} free")
    status = Status.FAIL if listener.required else Status.WARN
    if error.errno == errno.EADDRINUSE:
        holder = port_holder(listener.port, listener.protocol)
        return Check(status, f"{what} already taken{f' by {holder}' if holder else ''}",
                     f"stop that process (another callbot serve?), or set {listener.setting} to "
                     f"a free port ({listener.env})")
    if error.errno == errno.EACCES:
        return Check(status, f"{what}: not allowed ({one_line(error)})",
                     f"use a port above 1023 for {listener.setting}, or give callbot "
                     "CAP_NET_BIND_SERVICE")
    host_setting = listener.setting.rpartition(".")[0] + ".host"
    return Check(status, f"{what}: cannot listen ({one_line(error)})",
                 f"set {host_setting} to an address of this machine (127.0.0.1, or 0.0.0.0 "
                 "for every interface)")


def bind_error(host: str, port: int, protocol: str) -> OSError | None:
    """Bind as the server would (address reuse on, as asyncio's servers), then let go."""
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=kind, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            if protocol == "tcp":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:  # socket.gaierror included: the host does not resolve
        return exc
    return None


def port_holder(port: int, protocol: str, proc: Path = Path("/proc")) -> str:
    """``pid 1234 (python -m callbot.cli serve)`` bound to ``port``, or "" if not visible."""
    inodes = set()
    for table in (proc / "net" / protocol, proc / "net" / f"{protocol}6"):
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if (len(fields) > 9 and int(fields[1].rpartition(":")[2], 16) == port
                    and fields[3] == _BOUND_STATES[protocol]):
                inodes.add(f"socket:[{fields[9]}]")
    for fd in proc.glob("[0-9]*/fd/*") if inodes else ():
        try:
            if fd.readlink().as_posix() in inodes:
                command = (fd.parent.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                return f"pid {fd.parent.parent.name} ({command.decode(errors='replace').strip()})"
        except OSError:  # the process ended, or is not ours
            continue
    return ""


def check_resolves(setting: str, host: str) -> Check:
    try:
        address = socket.getaddrinfo(host, None)[0][4][0]
    except OSError as exc:
        return Check(Status.FAIL, f"{setting}: {host} does not resolve ({one_line(exc)})",
                     f"fix the name in {setting}, or the DNS / /etc/hosts of this machine")
    return Check(Status.OK, f"{setting}: {host} resolves to {address}")


def sip_uri_host(uri: str) -> str | None:
    """``sip:standard@pbx.mairie.local:5060;transport=udp`` → ``pbx.mairie.local``."""
    found = _SIP_URI.match(uri.strip())
    return found.group("host").strip("[]") if found else None


def check_sip(sip: SipSettings) -> list[Check]:
    """The addresses the endpoint binds and announces, the registrar and the switchboard."""
    checks = [check_resolves("sip.host", sip.host)]
    if sip.public_address:
        checks.append(check_resolves("sip.public_address", sip.public_address))
    for setting, uri in (("sip.register_uri", sip.register_uri),
                         ("sip.transfer_uri", sip.transfer_uri)):
        if not uri:
            continue
        host = sip_uri_host(uri)
        checks.append(check_resolves(setting, host) if host else Check(
            Status.FAIL, f"{setting}: {uri!r} is not a SIP URI",
            f"write it as sip:user@host[:port] ({setting})"))
    return checks


def check_rasa(url: str, timeout_sec: float = RASA_TIMEOUT_SEC) -> Check:
    """``GET /status``: up, and with a model loaded (it answers before the model is ready)."""
    what = f"Rasa server {url}"
    fix = ("start it with `callbot rasa serve`, or fix nlu.rasa_url; until then every turn waits "
           "for it, then falls back to the embedded NLU")
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/status", timeout=timeout_sec) as answer:
            status = json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return Check(Status.FAIL, f"{what}: GET /status answered {exc.code}", fix)
    except (OSError, ValueError) as exc:  # URLError, refused, timed out, not JSON
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return Check(Status.FAIL, f"{what}: no answer ({reason})", fix)
    model = status.get("model_file") if isinstance(status, dict) else None
    if not model:
        return Check(Status.WARN, f"{what}: up, but no model loaded yet",
                     "wait for it to load, or `callbot rasa train` then restart the server")
    return Check(Status.OK, f"{what}: up, model {Path(str(model)).name}")
