"""The main policy's door to the errand dialogues: which sentence opens one, for which service.

Pure, like the policy: "je voudrais prendre rendez-vous pour ma carte d'identité" opens the
booking dialogue of the topic's service when that service takes appointments and a calendar
is configured; "annuler" or "déplacer" + "rendez-vous" open the cancel and move dialogues.
Without a configured calendar nothing changes: the topic's answer says how to book.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from callbot.errands import booking, message, sms_number
from callbot.kb.model import KnowledgeBase, Service, Topic
from callbot.nlu.text import fold
from callbot.spoken_phone import other_number_asked

_APPOINTMENT = re.compile(r"\b(?:rendez vous|rdv|reserver|reservation|un creneau)\b")
_CANCEL = re.compile(r"\b(?:annuler|annule|decommander|supprimer)\b")
_MOVE = re.compile(r"\b(?:deplacer|changer|reporter|decaler|modifier|avancer)\b")


@dataclass(frozen=True)
class ErrandOptions:
    """What this call can do beyond answering (set by the conversation from its connectors)."""

    appointments: bool = False  # a calendar is configured
    sms: bool = False  # an SMS sender is configured: SMS are offered (the number asked if need be)
    messages: bool = False  # an SMTP server is configured: messages can be left at night
    caller_known: bool = False  # the calling number is known: a callback can be offered
    sms_to_caller: bool = False  # the calling number is a mobile: an SMS can go straight to it

    @property
    def why_number(self) -> sms_number.Why:
        """Why the number would be asked for an SMS (said to the caller first)."""
        if self.sms_to_caller:
            return sms_number.Why.ELSEWHERE
        return sms_number.Why.LANDLINE if self.caller_known else sms_number.Why.HIDDEN


#: What the bot says when the confirmation SMS could not leave (the booking itself stands).
SMS_NOT_SENT = "Je n'ai pas pu envoyer le SMS, mais votre rendez-vous est bien enregistré."


@dataclass(frozen=True)
class SmsNotSent:
    """An SMS failed (a booking's confirmation, or a topic's link): the conversation says so
    (an ``ErrandOutcome``)."""

    detail: str
    booking: bool = True  # the booking stands: say so

    @property
    def text(self) -> str:
        return SMS_NOT_SENT if self.booking else LINK_NOT_SENT


#: Said after an answer with a link, when an SMS can reach the caller.
LINK_OFFER = "Je peux aussi vous envoyer le lien par SMS : dites simplement « SMS »."
LINK_SENDING = "Je vous envoie le lien par SMS."
LINK_NOT_SENT = "Je n'ai pas pu envoyer le SMS."
_SMS = re.compile(r"\b(?:sms|texto|par message|le lien|ce lien|un lien)\b")


@dataclass(frozen=True)
class SendLink:
    """Send this text (a topic's link) by SMS to ``to`` ("": the calling number)."""

    text: str
    to: str = ""


def asks_sms(text: str) -> bool:
    return bool(_SMS.search(fold(text)))


def link_sms(town: str, topic: Topic) -> str:
    """The SMS text: who sends it, what it is about, the link; nothing about the caller."""
    return f"Mairie de {town} — {topic.label} : {topic.link}"


def asks_appointment(text: str) -> bool:
    return bool(_APPOINTMENT.search(fold(text).replace("-", " ")))


def booking_service(kb: KnowledgeBase, topics: Iterable[str | None]) -> Service | None:
    """The first of these topics whose service takes appointments."""
    for topic_id in topics:
        topic = kb.topics.get(topic_id or "")
        service = kb.services.get(topic.service) if topic else None
        if service is not None and service.appointments is not None:
            return service
    return None


def open_errand(text: str, topics: Iterable[str | None], kb: KnowledgeBase,
                options: ErrandOptions, now: datetime) -> booking.Decision | None:
    """The errand this sentence opens, or ``None`` (then the policy answers as usual)."""
    if not options.appointments or not asks_appointment(text):
        return None
    service = booking_service(kb, topics)
    if service is None:
        return None
    folded = fold(text)
    sms, to_caller = options.sms, options.sms_to_caller
    if _CANCEL.search(folded):
        return booking.start_cancel(service, sms=sms, sms_to_caller=to_caller)
    if _MOVE.search(folded):
        return booking.start_move(service, sms=sms, sms_to_caller=to_caller)
    return booking.start(service, now, text, sms=sms, sms_to_caller=to_caller)


def offer_message(kb: KnowledgeBase, topic: str | None,
                  options: ErrandOptions) -> message.MessageState | None:
    """Nobody to take the call: a message for the topic's service (else the switchboard's),
    when e-mail is configured and that service has a ``messages_to`` address."""
    if not options.messages:
        return None
    found = kb.topics.get(topic or "")
    for service in (kb.services.get(found.service) if found else None, kb.switchboard_service):
        if service is not None and service.messages_to:
            return message.offer(service.id, service.name, service.messages_to, service.phone,
                                 options.caller_known)
    return None


ErrandDecision = booking.Decision | message.Decision | sms_number.Decision


def ask_number_if_needed(decision: ErrandDecision, options: ErrandOptions,
                         said: str) -> ErrandDecision:
    """A booking's confirmation that needs a number (``SendSms(ask_number=True)``) goes on
    as the number dialogue; any other decision as it is."""
    asked = next((e for e in decision[2] if isinstance(e, booking.SendSms) and e.ask_number),
                 None)
    if asked is None:
        return decision
    return sms_number.start(replace(asked, ask_number=False), booking.SMS_SENT,
                            options.why_number, said)


def link_by_sms(send: SendLink, options: ErrandOptions, said: str) -> sms_number.Decision | None:
    """The number dialogue for a link, or ``None`` when it goes to the calling number."""
    if options.sms_to_caller and not other_number_asked(said):
        return None
    return sms_number.start(send, LINK_SENDING, options.why_number, said)


def errand_hears(errand: object, text: str, asr_confidence: float | None,
                 now: datetime) -> ErrandDecision:
    """The errand in progress hears the caller's sentence."""
    if isinstance(errand, message.MessageState):
        return message.step(errand, message.CallerText(text), now)
    if isinstance(errand, sms_number.NumberState):
        return sms_number.step(errand, sms_number.CallerText(text), now)
    return booking.step(errand, booking.CallerText(text, asr_confidence), now)  # type: ignore[arg-type]


def errand_learns(errand: object, outcome: object, now: datetime) -> ErrandDecision:
    """The errand in progress learns what carrying out its effect gave."""
    if isinstance(errand, message.MessageState):
        return message.step(errand, outcome, now)  # type: ignore[arg-type]
    if isinstance(errand, sms_number.NumberState):
        return sms_number.step(errand, outcome, now)
    return booking.step(errand, outcome, now)  # type: ignore[arg-type]
