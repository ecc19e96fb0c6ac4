"""SmtpMailer against a real SMTP server (aiosmtpd), one per module."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from errand_servers import MailServer, silent_port

from callbot.errands.connectors.factory import build_connectors, build_mailer
from callbot.errands.connectors.settings import ErrandSettings, MailSettings
from callbot.errands.connectors.smtp_mail import SmtpMailer
from callbot.errands.ports import ConnectorError
from callbot.ports import free_port

STAFF = "etat-civil@villebrune.fr"
UNKNOWN = "personne@villebrune.fr"  # the server answers 550
SENDER = "standard@villebrune.fr"
TIMEOUT_SEC = 0.5
MARGIN_SEC = 1.0
SUBJECT = "Message d'un administré : acte de naissance à réexpédier"
BODY = ("Bonjour,\n\nMme Hélène Garçon a appelé le standard : l'acte de naissance demandé "
        "le 3 décembre n'est pas arrivé. Elle souhaite être rappelée.\n\n— Le standard")


@pytest.fixture(scope="module")
def smtp() -> Iterator[MailServer]:
    server = MailServer(refused=frozenset({UNKNOWN})).start()
    yield server
    server.stop()


def _mailer(port: int) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, SENDER, timeout_sec=TIMEOUT_SEC)


def test_a_french_subject_and_body_arrive_intact(smtp: MailServer) -> None:
    """The subject is long enough to be folded into several encoded words."""
    _mailer(smtp.port).send(STAFF, SUBJECT, BODY)

    message = smtp.messages[-1]
    assert message["Subject"] == SUBJECT
    assert (message["From"], message["To"]) == (SENDER, STAFF)
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == BODY


def test_a_refused_recipient_is_a_connector_error(smtp: MailServer) -> None:
    before = len(smtp.messages)
    with pytest.raises(ConnectorError, match=r"SMTP 127.0.0.1:\d+: the recipient was refused \(550\)"):
        _mailer(smtp.port).send(UNKNOWN, SUBJECT, BODY)
    assert len(smtp.messages) == before


def test_a_dead_or_hung_server_fails_within_the_timeout() -> None:
    with silent_port() as hung:
        for port in (free_port(), hung):
            started = time.monotonic()
            with pytest.raises(ConnectorError, match=f"SMTP 127.0.0.1:{port}: connecting failed"):
                _mailer(port).send(STAFF, SUBJECT, BODY)
            assert time.monotonic() - started < TIMEOUT_SEC + MARGIN_SEC


def test_mail_settings_build_a_mailer_only_when_configured() -> None:
    assert build_connectors(ErrandSettings()) == build_connectors(ErrandSettings(), "UTC")
    assert build_connectors(ErrandSettings()).mail is None
    assert build_mailer(MailSettings()) is None
    assert isinstance(build_mailer(MailSettings(host="smtp.villebrune.fr")), SmtpMailer)
