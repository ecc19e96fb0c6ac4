"""Carries the errand dialogue's effects out with the configured connectors, and says what
came of it: the I/O side of ``callbot.errands.booking`` (which stays pure).

Blocking, like the connectors: it runs in the conversation's worker thread. A connector that
fails becomes the dialogue's error event (``booking.event_for_error``), so the caller hears
"je n'ai pas pu …" and gets a person, never a half-done booking. The caller's number goes to
the calendar (to find their bookings) and to the SMS gateway, never to a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from loguru import logger

from callbot.config import StoreSettings
from callbot.conversation.errands import ErrandOptions, SendLink, SmsNotSent
from callbot.errands import booking, message
from callbot.errands.connectors.factory import Connectors
from callbot.errands.ports import ConnectorError
from callbot.errands.slots import HORIZON_DAYS, free_slots
from callbot.spoken_phone import dialable, reachable
from callbot.store.message_audio import HeardAudio, keeps_audio, save_audio


@dataclass(frozen=True)
class ErrandRunner:
    connectors: Connectors
    store: StoreSettings | None = None  # where messages are kept for the agents' list

    def options(self, caller: str | None) -> ErrandOptions:
        """What this call can do: book with a calendar, send SMS (to the calling number when
        it is a mobile, else to one the caller gives), leave a message when e-mail is
        configured, be called back when the number is not hidden."""
        return ErrandOptions(appointments=self.connectors.calendar is not None,
                             sms=self.connectors.sms is not None,
                             messages=self.connectors.mail is not None,
                             caller_known=dialable(caller),
                             sms_to_caller=reachable(caller) is not None)

    def carry_out(self, effect: object, now: datetime, caller: str | None,
                  call_id: str = "", heard: HeardAudio | None = None) -> object | None:
        """The outcome to feed back to the dialogue (``None``: nothing to tell it).
        ``heard``: the audio of the sentence a message was said in (kept with the message
        when recording is on)."""
        if isinstance(effect, message.LeaveMessage):
            return self._leave(effect, now, caller, call_id, heard)
        try:
            return self._carry_out(effect, now, caller)
        except ConnectorError as exc:
            logger.warning(f"errand: {type(effect).__name__} failed: {exc}")
            if isinstance(effect, booking.SendSms | SendLink):
                return SmsNotSent(str(exc), booking=isinstance(effect, booking.SendSms))
            return booking.event_for_error(effect, exc)  # type: ignore[arg-type]

    def _leave(self, note: message.LeaveMessage, now: datetime, caller: str | None,
               call_id: str, heard: HeardAudio | None = None) -> message.MessageLeft:
        """E-mail it to the service and keep it in the agents' list: left if either worked
        (the list is what agents tick off; the e-mail is the department's copy)."""
        callback = caller if note.wants_callback and caller else ""
        mailed_to, mail_error = "", ""
        mailer = self.connectors.mail
        try:
            if mailer is None:
                raise ConnectorError("no SMTP server configured (errands.mail)")
            body = note.text + (f"\n\nÀ rappeler au {callback}." if callback else "")
            mailer.send(note.to, f"Message laissé au standard ({now:%d/%m %H:%M})", body)
            mailed_to = note.to
        except ConnectorError as exc:
            logger.warning(f"errand: the message could not be e-mailed: {exc}")
            mail_error = str(exc)
        kept = False
        if self.store is not None:
            from callbot.store.messages import add_message, blocking

            try:
                message_id = blocking(self.store, lambda engine: add_message(
                    engine, call_id, note.service, note.text, callback, note.wants_callback,
                    mailed_to, mail_error, now))
                kept = True
            except Exception as exc:  # the database away: the e-mail may still have left
                logger.opt(exception=exc).warning("errand: the message could not be stored")
            if kept and heard is not None and keeps_audio(self.store):
                self._keep_audio(message_id, heard)
        return message.MessageLeft(ok=bool(mailed_to) or kept)

    def _keep_audio(self, message_id: int, heard: HeardAudio) -> None:
        """The message's audio beside it; a disk that refuses costs the audio, not the
        message (its transcript is stored)."""
        assert self.store is not None
        try:
            save_audio(self.store, message_id, heard)
        except OSError as exc:
            logger.warning(f"errand: the audio of message {message_id} was not kept: {exc}")

    def _carry_out(self, effect: object, now: datetime, caller: str | None) -> object | None:
        calendar, sms = self.connectors.calendar, self.connectors.sms
        match effect:
            case booking.FindSlots() if calendar is not None:
                end = now + timedelta(days=HORIZON_DAYS)
                busy = calendar.busy(effect.calendar, now, end)
                return booking.SlotsFound(tuple(free_slots(
                    effect.service, effect.slot_minutes, busy, effect.when, now,
                    calendar=effect.calendar, exclude=effect.exclude)))
            case booking.Book() if calendar is not None:
                return booking.Booked(calendar.book(effect.slot, effect.name, caller))
            case booking.CancelBooking() if calendar is not None:
                calendar.cancel(effect.booking)
                return booking.Cancelled()
            case booking.FindBookings() if calendar is not None and caller:
                return booking.BookingsFound(tuple(calendar.find(effect.calendar, caller, now)))
            case booking.FindBookings():
                return booking.BookingsFound(())  # no number: nothing to look up by
            case booking.SendSms() | SendLink() if sms is not None and (
                    effect.to or reachable(caller)):
                sms.send(effect.to or reachable(caller) or "", effect.text)
                return None
            case booking.Handover():
                return None  # the policy hands the call over itself
        raise ConnectorError(f"no connector configured for {type(effect).__name__}")
