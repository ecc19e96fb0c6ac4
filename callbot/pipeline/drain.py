"""The end of a SIGTERM drain: calls still running go to a person, not down with the process.

``callbot serve`` stops taking calls and waits ``voice.drain_timeout_sec`` for those in
progress. Each one still on then gets the pre-rendered transfer prompt and is transferred
the way its transport transfers (WebSocket transfer message, SIP REFER, …) with reason
``shutdown``; its call-log record is closed ``transferred`` as the transfer is decided.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from callbot.pipeline.call import VoiceStack

#: The transfer prompt (about 4 s), the transport's hand-over (a SIP REFER waits for its
#: NOTIFY up to ``sip.transfer_timeout_sec``), then the line closes.
HAND_OVER_SEC = 20.0


async def drain_calls(stack: VoiceStack, timeout_sec: float,
                      hand_over_sec: float = HAND_OVER_SEC) -> None:
    """Let the calls in progress end by themselves, then hand the others to a person."""
    if not stack.active_calls:
        return
    try:
        await asyncio.wait_for(stack.idle.wait(), timeout_sec)
        return
    except TimeoutError:
        pass
    calls = list(stack.calls)
    logger.warning(f"{len(calls)} call(s) still running after {timeout_sec:.0f} s: "
                   "transferring them to a person")
    await asyncio.gather(*(call.hand_over() for call in calls))
    try:
        await asyncio.wait_for(stack.idle.wait(), hand_over_sec)
    except TimeoutError:
        logger.error(f"{stack.active_calls} call(s) still running {hand_over_sec:.0f} s after "
                     "their transfer: closing their lines")
