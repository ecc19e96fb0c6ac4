"""Settings of the errand connectors; every default means "not configured".

Plain pydantic models, light to import, for ``callbot.config`` to nest as
``settings.errands`` (``CALLBOT_ERRANDS__SMS__KIND=smpp`` …); ``factory.build_connectors``
turns them into connectors. Passwords and tokens are never logged, nor in a ``repr``.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator


class CalendarSettings(BaseModel):
    """A CalDAV server; ``calendars`` maps our calendar ids to a calendar URL or name."""

    url: str | None = None  # e.g. https://agenda.mairie.fr/dav/; None: no appointments
    username: str | None = None
    password: str | None = Field(default=None, repr=False)  # CALLBOT_ERRANDS__CALENDAR__PASSWORD
    auth_type: Literal["basic", "digest"] = "basic"
    timeout_sec: float = 5.0
    #: {"etat-civil": "etat-civil"}: a name is a collection under the user's calendar home,
    #: created at first use; a value with "/" is a calendar URL (or a path on the server).
    calendars: dict[str, str] = Field(default_factory=dict)


class SmsSettings(BaseModel):
    """An SMSC over SMPP 3.4 (``kind="smpp"``) or a JSON web gateway (``kind="http"``)."""

    kind: Literal["none", "smpp", "http"] = "none"
    host: str | None = None  # smpp
    port: int = 2775
    system_id: str | None = None
    password: str | None = Field(default=None, repr=False)  # CALLBOT_ERRANDS__SMS__PASSWORD
    source_addr: str = "MAIRIE"  # the sender shown on the phone: a name or "+33…"
    url: str | None = None  # http: POST {"to", "text"} here
    token: str | None = Field(default=None, repr=False)  # http: the bearer token
    timeout_sec: float = 5.0

    @model_validator(mode="after")
    def _complete(self) -> Self:
        needed = {"none": (), "smpp": ("host", "system_id", "password"), "http": ("url",)}
        missing = [name for name in needed[self.kind] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"errands.sms.kind = {self.kind!r} needs errands.sms."
                             f"{', errands.sms.'.join(missing)}; without them no SMS is sent "
                             "(kind = 'none')")
        return self


class MailSettings(BaseModel):
    """An SMTP server for the messages left to the staff."""

    host: str | None = None  # None: no e-mail
    port: int = 25
    sender: str = "mairie@localhost"
    username: str | None = None
    password: str | None = Field(default=None, repr=False)  # CALLBOT_ERRANDS__MAIL__PASSWORD
    starttls: bool = False
    timeout_sec: float = 5.0


class ErrandSettings(BaseModel):
    """What ``settings.errands`` holds."""

    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
