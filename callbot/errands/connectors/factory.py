"""The configured connectors, from ``ErrandSettings``; ``None`` for each one not configured.

Each client library (caldav, smpplib) is imported only when its connector is configured, so
a town without a calendar does not load the CalDAV stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbot.errands.connectors.settings import (
    CalendarSettings,
    ErrandSettings,
    MailSettings,
    SmsSettings,
)
from callbot.errands.ports import Calendar, Mailer, SmsSender


@dataclass(frozen=True)
class Connectors:
    """What the errand dialogues can use; a ``None`` one makes them offer a person instead."""

    calendar: Calendar | None = None
    sms: SmsSender | None = None
    mail: Mailer | None = None


def build_connectors(settings: ErrandSettings, timezone: str = "Europe/Paris") -> Connectors:
    """``timezone`` is the town's (``settings.timezone``): calendar times are local to it."""
    return Connectors(calendar=build_calendar(settings.calendar, timezone),
                      sms=build_sms(settings.sms), mail=build_mailer(settings.mail))


def build_calendar(settings: CalendarSettings, timezone: str = "Europe/Paris") -> Calendar | None:
    if settings.url is None:
        return None
    from callbot.errands.connectors.caldav_calendar import CalDavCalendar

    return CalDavCalendar(settings.url, settings.username, settings.password,
                          settings.timeout_sec, settings.calendars, timezone=timezone,
                          auth_type=settings.auth_type)


def build_sms(settings: SmsSettings) -> SmsSender | None:
    if settings.kind == "smpp":
        from callbot.errands.connectors.smpp_sms import SmppSmsSender

        # the validator made sure host, system_id and password are set
        return SmppSmsSender(str(settings.host), settings.port, str(settings.system_id),
                             str(settings.password), settings.source_addr, settings.timeout_sec)
    if settings.kind == "http":
        from callbot.errands.connectors.http_sms import HttpSmsSender

        return HttpSmsSender(str(settings.url), settings.token, settings.timeout_sec)
    return None


def build_mailer(settings: MailSettings) -> Mailer | None:
    if settings.host is None:
        return None
    from callbot.errands.connectors.smtp_mail import SmtpMailer

    return SmtpMailer(settings.host, settings.port, settings.sender, settings.username,
                      settings.password, settings.starttls, settings.timeout_sec)
