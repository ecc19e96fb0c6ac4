"""Messages for the town's staff by e-mail (stdlib ``smtplib``), UTF-8 subject and body.

One SMTP session per message, as for SMS: a message left for a department is rare. STARTTLS
and login are optional, for a relay on the town's network or the provider's submission port.

The message is a ``MIMEText`` with an ``email.header.Header`` subject rather than an
``EmailMessage``: when the latter folds a long French subject into several encoded words it
drops the space between two of them (CPython 3.11: "à réexpédier" arrives "àréexpédier").
"""

from __future__ import annotations

import smtplib
import ssl
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

from callbot.errands.ports import ConnectorError


class SmtpMailer:
    """``Mailer`` through one SMTP server; safe to share, each send has its own session."""

    def __init__(self, host: str, port: int = 25, sender: str = "mairie@localhost",
                 username: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout_sec: float = 5.0) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout_sec = timeout_sec

    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver one message to the server; refused recipients or data raise."""
        message = MIMEText(body, "plain", "utf-8")
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = Header(subject, "utf-8")
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        step = "connecting"
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout_sec) as smtp:
                if self._starttls:
                    step = "STARTTLS"
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    step = "login"
                    smtp.login(self._username, self._password or "")
                step = "sending"
                smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            raise ConnectorError(f"SMTP {self._host}:{self._port}: {step} refused: "
                                 f"{exc.smtp_code} {reply}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise ConnectorError(f"SMTP {self._host}:{self._port}: the recipient was refused "
                                 f"({', '.join(map(str, codes))})") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ConnectorError(f"SMTP {self._host}:{self._port}: {step} failed: "
                                 f"{type(exc).__name__} {exc}") from exc
