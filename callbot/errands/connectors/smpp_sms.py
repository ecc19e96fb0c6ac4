"""SMS through an operator's SMSC over SMPP 3.4 (``smpplib``): one short session per message.

A confirmation SMS is rare (a few per hour), so each ``send`` connects, binds as a
transmitter, submits the parts, unbinds and disconnects: no link to keep alive, nothing to
reconnect. Text with anything beyond ASCII goes as UCS-2 (data_coding 8), which every handset
renders; a long text is split into parts joined by a user data header. The PDU hex dumps of
smpplib's debug log hold the numbers and the text, and every failure it logs is in our
``ConnectorError`` too, so its logger is kept to errors.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress

import smpplib.client
import smpplib.command
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from callbot.errands.ports import ConnectorError

_LOGGER_NAME = "callbot.errands.smpp"
_SUBMIT_RESP = "submit_sm_resp"


def _address(number: str) -> tuple[int, int, str]:
    """(TON, NPI, address): "+33…" is international, digits are left to the SMSC, else a name."""
    if number.startswith("+") and number[1:].isdigit():
        return (smpplib.consts.SMPP_TON_INTL, smpplib.consts.SMPP_NPI_ISDN, number[1:])
    if number.isdigit():
        return (smpplib.consts.SMPP_TON_UNK, smpplib.consts.SMPP_NPI_ISDN, number)
    return (smpplib.consts.SMPP_TON_ALNUM, smpplib.consts.SMPP_NPI_UNK, number)


class SmppSmsSender:
    """``SmsSender`` bound to one SMSC account; safe to share, each send has its own session."""

    def __init__(self, host: str, port: int, system_id: str, password: str, source_addr: str,
                 timeout_sec: float = 5.0) -> None:
        self._host = host
        self._port = port
        self._system_id = system_id
        self._password = password
        self._source_addr = source_addr
        self._timeout_sec = timeout_sec
        logging.getLogger(_LOGGER_NAME).setLevel(logging.ERROR)  # no PDU dumps (numbers, text)

    def send(self, to: str, text: str) -> str:
        """Submit ``text`` (in parts if long); the SMSC's message id of the first part."""
        client = smpplib.client.Client(self._host, self._port, timeout=self._timeout_sec,
                                       logger_name=_LOGGER_NAME, allow_unknown_opt_params=True)
        step = "connecting"
        try:
            client.connect()
            step = "bind_transmitter"
            client.bind_transmitter(system_id=self._system_id, password=self._password)
            step = "submit_sm"
            return self._submit(client, to, text)
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError,
                smpplib.exceptions.UnknownCommandError, OSError) as exc:
            raise ConnectorError(f"SMSC {self._host}:{self._port}: {step} failed: "
                                 f"{_reason(exc)}") from exc
        finally:
            _close(client)

    def _submit(self, client: smpplib.client.Client, to: str, text: str) -> str:
        encoding = (smpplib.consts.SMPP_ENCODING_DEFAULT if text.isascii()
                    else smpplib.consts.SMPP_ENCODING_ISO10646)
        parts, data_coding, esm_class = smpplib.gsm.make_parts(text, encoding)
        source_ton, source_npi, source = _address(self._source_addr)
        dest_ton, dest_npi, destination = _address(to)
        message_ids = []
        for part in parts:
            pdu = client.send_message(
                source_addr_ton=source_ton, source_addr_npi=source_npi, source_addr=source,
                dest_addr_ton=dest_ton, dest_addr_npi=dest_npi, destination_addr=destination,
                short_message=part, data_coding=data_coding, esm_class=esm_class,
                registered_delivery=0)
            message_ids.append(self._await_response(client, pdu.sequence))
        return message_ids[0]

    def _await_response(self, client: smpplib.client.Client, sequence: int) -> str:
        """Read PDUs until the submit_sm_resp of ``sequence``; an error status raises."""
        answers: list[str] = []

        def sent(pdu: smpplib.command.Command, **_: object) -> None:
            if pdu.sequence == sequence:
                answers.append(_text(pdu.message_id))

        client.set_message_sent_handler(sent)
        deadline = time.monotonic() + self._timeout_sec
        while not answers:
            if time.monotonic() > deadline:
                raise smpplib.exceptions.ConnectionError("no submit_sm_resp in time")
            try:
                client.read_once(auto_send_enquire_link=False)
            except TimeoutError as exc:
                raise smpplib.exceptions.ConnectionError("no submit_sm_resp in time") from exc
        return answers[0]


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return value or ""


def _reason(exc: BaseException) -> str:
    """smpplib's own words ("(88) submit_sm_resp: Throttling error"), else what happened."""
    if exc.args and isinstance(exc.args[0], str) and exc.args[0]:
        return exc.args[0]
    if isinstance(exc, smpplib.exceptions.ConnectionError):
        return "connection closed or no answer in time"  # smpplib raises it bare for both
    return type(exc).__name__


def _close(client: smpplib.client.Client) -> None:
    """Unbind if still bound, then disconnect: the message is already sent, or failed."""
    if client.state == smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX:
        with suppress(smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
            client.unbind()
    with suppress(OSError):
        client.disconnect()
