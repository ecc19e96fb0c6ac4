"""SMS through an HTTP gateway: ``POST {"to", "text"}`` with a bearer token (stdlib only).

For towns whose provider offers a web API rather than SMPP. The call is synchronous, like
every connector; the gateway's JSON answer may carry the message id as ``"id"`` or
``"message_id"``. The text and the number are in the request body only, never in an error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from callbot.errands.ports import ConnectorError

_ID_FIELDS = ("id", "message_id")
_MAX_ANSWER_BYTES = 64 * 1024


class HttpSmsSender:
    """``SmsSender`` on a JSON web gateway; safe to share between threads."""

    def __init__(self, url: str, token: str | None = None, timeout_sec: float = 5.0) -> None:
        self._url = url
        self._token = token
        self._timeout_sec = timeout_sec
        self._server = urlsplit(url).netloc or url

    def send(self, to: str, text: str) -> str:
        """POST the SMS; the gateway's message id, or "" if its answer names none."""
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            self._url, data=json.dumps({"to": to, "text": text}).encode("utf-8"),
            headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_sec) as response:
                answer = response.read(_MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:  # non-2xx (urllib follows redirects itself)
            raise ConnectorError(f"SMS gateway {self._server}: the gateway answered "
                                 f"{exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectorError(f"SMS gateway {self._server}: sending failed: "
                                 f"{type(exc).__name__} {reason}") from exc
        return _message_id(answer)


def _message_id(answer: bytes) -> str:
    try:
        body = json.loads(answer or b"{}")
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return next((str(body[field]) for field in _ID_FIELDS if body.get(field) is not None), "")
