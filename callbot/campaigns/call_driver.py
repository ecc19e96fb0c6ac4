"""One answered call driven by the outbound dialogue: the policy's actions on a ``CallLine``.

``drive`` asks the line whether a machine answered (then waits for the greeting's end), feeds
the dialogue (``callbot.campaigns.dialogue.decide``) what the line hears, and carries out what
it decides: say, listen, put through, hang up. Its ``End`` is the attempt's result. A hang-up
during a goodbye keeps the answer already given; a line that fails mid-call is an interrupted
call (the scheduler files a callback for a check, and never calls again), and a cancelled run
hangs up before it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from loguru import logger

from callbot.campaigns import wording
from callbot.campaigns.dialer import CallLine, HeardKind, HeardReport
from callbot.campaigns.dialogue import (
    End,
    Event,
    KeyPressed,
    LineDropped,
    Listen,
    MachineAnswered,
    NothingHeard,
    OutboundContext,
    OutboundState,
    PersonAnswered,
    PersonSaid,
    PutThrough,
    Speak,
    TransferEnded,
    decide,
)
from callbot.campaigns.model import CampaignKind, Result
from callbot.campaigns.phones import national
from callbot.store.campaigns import CampaignRow, Person

if TYPE_CHECKING:
    from loguru import Logger

HANGUP_SEC = 2.0  # a hang-up on the way out (failure, shutdown) waits no longer


def context_for(campaign: CampaignRow, person: Person, leave_voicemail: bool,
                listen_sec: float) -> OutboundContext:
    """What the dialogue says to this person: the message with their fields, the question."""
    if campaign.kind is CampaignKind.REMINDER:
        question = ""
    elif campaign.question:
        question = wording.with_hint(campaign.question)
    else:
        question = wording.HEATWAVE_QUESTION
    return OutboundContext(campaign.kind, campaign.town,
                           wording.render(campaign.message, person.name, person.fields), question,
                           national(campaign.callback_number), person.name, campaign.transfer,
                           leave_voicemail, listen_sec)


async def drive(call: CallLine, ctx: OutboundContext, now: Callable[[], datetime],
                log: Logger = logger) -> End:
    """The call from its answer to its end; ``now`` is the runner's clock."""
    try:
        return await _dialogue(call, ctx, now)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(call.hangup("shutdown"), HANGUP_SEC)
        raise
    except Exception as exc:
        log.warning(f"call failed: {type(exc).__name__}")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(call.hangup("failure"), HANGUP_SEC)
        return End(Result.INTERRUPTED, f"the call failed: {type(exc).__name__}")


async def _dialogue(call: CallLine, ctx: OutboundContext, now: Callable[[], datetime]) -> End:
    event: Event | None = PersonAnswered()
    if (await call.machine()).machine:
        await call.wait_quiet()  # the greeting's end, its beep
        event = MachineAnswered()
    state = OutboundState()
    while event is not None:
        state, actions = decide(state, event, now(), ctx)
        event = None
        for index, action in enumerate(actions):
            match action:
                case Speak(text=text) if not await call.say(text):
                    end = next((a for a in actions[index:] if isinstance(a, End)), None)
                    if end is not None:  # gone during the goodbye: the answer stands
                        return replace(end, voicemail_left=False)
                    event = LineDropped()
                    break
                case Listen(seconds=seconds):
                    event = _event_of(await call.listen(seconds))
                    break
                case PutThrough(reason=reason):
                    event = TransferEnded(await call.transfer(reason) is None)
                    break
                case End(result=result):
                    if result is not Result.TRANSFERRED:
                        await call.hangup(str(result))
                    return action
    return End(Result.HUNG_UP, "the dialogue stopped")


def _event_of(heard: HeardReport) -> Event:
    kind = str(heard.kind)
    if kind == HeardKind.SPEECH:
        return PersonSaid(heard.text)
    if kind == HeardKind.DTMF:
        return KeyPressed(heard.text)
    if kind == HeardKind.HANGUP:
        return LineDropped()
    return NothingHeard()
