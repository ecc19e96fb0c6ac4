"""Settings of outbound calls (``[sip.outbound]``, ``CALLBOT_SIP__OUTBOUND__*``).

Apart from ``callbot.config`` so that the campaign code and the dialer read one small object;
see docs/telephony.md, "Outbound calls".
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class OutboundSettings(BaseModel):
    """Where the SIP endpoint places calls, as whom, and how many lines it may take."""

    trunk_host: str | None = None  # the SIP trunk or the PBX (IP address or name); None: off
    trunk_port: int = 5060
    username: str | None = None  # digest credentials, answered to a 401/407 challenge
    password: str | None = None  # CALLBOT_SIP__OUTBOUND__PASSWORD; never logged
    #: the town hall's number, presented in From and P-Asserted-Identity (E.164 or national)
    caller_id: str = "anonymous"
    caller_name: str | None = None  # display name, e.g. "Mairie de Villebrune"
    from_domain: str | None = None  # host of From/P-Asserted-Identity; None: trunk_host
    ring_timeout_sec: float = 30.0  # unanswered by then: CANCEL, outcome no_answer
    keep_free_lines: int = Field(default=2, ge=0)  # lines outbound calls leave to callers
    max_lines: int | None = None  # outbound calls at once at most; None: all but keep_free_lines
    transfer_uri: str | None = None  # the on-duty agent (REFER target); None: sip.transfer_uri
    amd: bool = True  # answering-machine detection on answered calls
    #: ``callbot campaign run``'s own SIP port (0: any free one; ``callbot serve`` has sip.port)
    local_port: int = 0

    @property
    def configured(self) -> bool:
        return bool(self.trunk_host)
