"""SMS senders against real peers: an SMSC on npm's smpp package, an aiohttp gateway.

The SMSC (tests/fixtures/smsc/smsc.js) logs every submit_sm with its short message as raw
hex, so the tests read what went over the wire: UCS-2 bytes, user data headers, addresses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from errand_servers import HttpGateway, Smsc, silent_port
from pydantic import ValidationError

from callbot.errands.connectors.factory import build_sms
from callbot.errands.connectors.http_sms import HttpSmsSender
from callbot.errands.connectors.settings import SmsSettings
from callbot.errands.connectors.smpp_sms import SmppSmsSender
from callbot.errands.ports import ConnectorError
from callbot.ports import free_port

TO = "+33612345678"
THROTTLED = "+33600000000"  # the SMSC answers ESME_RTHROTTLED
TIMEOUT_SEC = 0.5
MARGIN_SEC = 1.0
UCS2 = 8
UDHI = 0x40
UCS2_PART_CHARS = 67  # 140 bytes less the 6-byte header, 2 bytes a character
CONFIRMATION = "Votre rendez-vous à l'état civil est confirmé : lundi 11 janvier, 9 h."
LONG_TEXT = ("Mairie de Villebrune : votre demande de carte d'identité est enregistrée. "
             "Présentez-vous à l'accueil avec une photo récente, un justificatif de domicile "
             "de moins d'un an et l'ancienne carte. Pour annuler ou déplacer le rendez-vous, "
             "rappelez le standard ; l'équipe de l'état civil vous répondra du lundi au "
             "vendredi, de 9 h à 12 h et de 14 h à 17 h. À bientôt !")


@pytest.fixture(scope="module")
def smsc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsc]:
    server = Smsc(tmp_path_factory.mktemp("smsc")).start()
    yield server
    server.stop()


def _sender(smsc: Smsc, password: str | None = None) -> SmppSmsSender:
    return SmppSmsSender("127.0.0.1", smsc.port, smsc.system_id,
                         password or smsc.password, "MAIRIE", TIMEOUT_SEC)


def _sent(smsc: Smsc, send: Any) -> tuple[Any, list[dict[str, Any]]]:
    """What ``send()`` returned, and the submit_sm PDUs it made the SMSC log."""
    before = len(smsc.submits())
    result = send()
    return result, smsc.submits()[before:]


def _user_data(submit: dict[str, Any]) -> tuple[bytes, bytes]:
    """(user data header, payload) of one logged short message."""
    raw = bytes.fromhex(submit["short_message"])
    if not submit["esm_class"] & UDHI:
        return b"", raw
    return raw[:raw[0] + 1], raw[raw[0] + 1:]


def test_a_french_sms_goes_as_ucs2_and_decodes_to_the_same_text(smsc: Smsc) -> None:
    message_id, submits = _sent(smsc, lambda: _sender(smsc).send(TO, CONFIRMATION))

    [submit] = submits
    assert submit["data_coding"] == UCS2
    assert submit["esm_class"] == 0
    assert bytes.fromhex(submit["short_message"]).decode("utf-16-be") == CONFIRMATION
    assert (submit["destination_addr"], submit["dest_addr_ton"]) == ("33612345678", 1)
    assert (submit["source_addr"], submit["source_addr_ton"]) == ("MAIRIE", 5)
    assert message_id == submit["message_id"]


def test_plain_ascii_goes_in_the_default_alphabet(smsc: Smsc) -> None:
    _, [submit] = _sent(smsc, lambda: _sender(smsc).send(TO, "Rendez-vous lundi a 9 h."))
    assert submit["data_coding"] == 0
    assert bytes.fromhex(submit["short_message"]) == b"Rendez-vous lundi a 9 h."


def test_a_long_text_goes_in_parts_that_reassemble(smsc: Smsc) -> None:
    assert len(LONG_TEXT) > 300
    message_id, submits = _sent(smsc, lambda: _sender(smsc).send(TO, LONG_TEXT))

    parts = -(-len(LONG_TEXT) // UCS2_PART_CHARS)
    assert len(submits) == parts > 1
    headers, payloads = zip(*map(_user_data, submits), strict=True)
    # 05 00 03: concatenation, 8-bit reference; then reference, total, sequence number
    assert {header[:4] for header in headers} == {headers[0][:4]}
    assert headers[0][:3] == b"\x05\x00\x03"
    assert [(header[4], header[5]) for header in headers] == [
        (parts, n) for n in range(1, parts + 1)]
    assert all(submit["esm_class"] == UDHI and submit["data_coding"] == UCS2
               for submit in submits)
    assert b"".join(payloads).decode("utf-16-be") == LONG_TEXT
    assert message_id == submits[0]["message_id"]


def test_a_wrong_password_is_a_connector_error(smsc: Smsc) -> None:
    with pytest.raises(ConnectorError, match=r"bind_transmitter failed: \(13\) .*Bind Failed"):
        _sender(smsc, password="wrong").send(TO, CONFIRMATION)


def test_a_throttled_submit_is_a_connector_error(smsc: Smsc) -> None:
    with pytest.raises(ConnectorError) as refusal:
        _sender(smsc).send(THROTTLED, CONFIRMATION)
    assert f"SMSC 127.0.0.1:{smsc.port}: submit_sm failed: (88)" in str(refusal.value)
    assert THROTTLED[1:] not in str(refusal.value)  # numbers stay out of errors and logs


def test_a_dead_or_hung_smsc_fails_within_the_timeout() -> None:
    with silent_port() as hung:
        for port, step in ((free_port(), "connecting"), (hung, "bind_transmitter")):
            started = time.monotonic()
            with pytest.raises(ConnectorError, match=f"SMSC 127.0.0.1:{port}: {step} failed"):
                SmppSmsSender("127.0.0.1", port, "callbot", "secret", "MAIRIE",
                              TIMEOUT_SEC).send(TO, CONFIRMATION)
            assert time.monotonic() - started < TIMEOUT_SEC + MARGIN_SEC


@pytest.fixture(scope="module")
def gateway() -> Iterator[HttpGateway]:
    server = HttpGateway(token="jeton-de-test", slow_sec=3 * TIMEOUT_SEC).start()
    yield server
    server.stop()


def test_the_http_gateway_gets_the_sms_as_json_with_the_token(gateway: HttpGateway) -> None:
    message_id = HttpSmsSender(f"{gateway.url}/sms", "jeton-de-test", TIMEOUT_SEC).send(
        TO, CONFIRMATION)
    request = gateway.requests[-1]
    assert request.body == {"to": TO, "text": CONFIRMATION}
    assert request.headers["Authorization"] == "Bearer jeton-de-test"
    assert message_id == f"http-{len(gateway.requests)}"


@pytest.mark.parametrize(("path", "token", "expected"), [
    ("/broken", "jeton-de-test", "the gateway answered 500"),
    ("/sms", "mauvais-jeton", "the gateway answered 401"),
    ("/slow", "jeton-de-test", "sending failed: TimeoutError"),
])
def test_http_gateway_failures_are_connector_errors(gateway: HttpGateway, path: str,
                                                    token: str, expected: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectorError, match=f"SMS gateway 127.0.0.1:{gateway.port}: {expected}"):
        HttpSmsSender(f"{gateway.url}{path}", token, TIMEOUT_SEC).send(TO, CONFIRMATION)
    assert time.monotonic() - started < TIMEOUT_SEC + MARGIN_SEC


def test_an_http_gateway_that_is_down_is_a_connector_error() -> None:
    with pytest.raises(ConnectorError, match="sending failed: URLError"):
        HttpSmsSender(f"http://127.0.0.1:{free_port()}/sms", None, TIMEOUT_SEC).send(TO, "x")


def test_sms_settings_build_the_configured_sender() -> None:
    assert build_sms(SmsSettings()) is None
    assert isinstance(build_sms(SmsSettings(kind="http", url="https://sms.example/send")),
                      HttpSmsSender)
    smpp = SmsSettings(kind="smpp", host="smsc.example", system_id="mairie", password="x")
    assert isinstance(build_sms(smpp), SmppSmsSender)
    with pytest.raises(ValidationError, match="needs errands.sms.host, errands.sms.system_id"):
        SmsSettings(kind="smpp", password="x")
