"""``/health`` for load balancers and ``/metrics`` in Prometheus' text format."""

from __future__ import annotations

import secrets

from aiohttp import web
from sqlalchemy import text

from callbot.store import queries
from callbot.web.dashboard import local_now
from callbot.web.keys import ENGINE, SETTINGS


async def health(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise; says nothing else."""
    try:
        async with request.app[ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any database failure means "take me out of rotation"
        return web.json_response({"status": "database unreachable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].web.metrics_token
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if request["session"] is None and not (token and secrets.compare_digest(sent, token)):
        raise web.HTTPUnauthorized(text="log in or send the metrics bearer token")
    engine = request.app[ENGINE]
    totals = await queries.outcome_totals(engine)
    live = len(await queries.calls_in_progress(engine, local_now(request)))
    lines = ["# HELP callbot_calls_total Calls in the log, by outcome.",
             "# TYPE callbot_calls_total counter"]
    lines += [f'callbot_calls_total{{outcome="{k}"}} {v}' for k, v in sorted(totals.items())
              if k != "in_progress"]
    lines += ["# HELP callbot_calls_in_progress Calls going on now.",
              "# TYPE callbot_calls_in_progress gauge", f"callbot_calls_in_progress {live}"]
    return web.Response(text="\n".join(lines) + "\n",
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Prometheus-Format": "0.0.4"})


def routes() -> list[web.RouteDef]:
    return [web.get("/health", health), web.get("/metrics", metrics)]
