"""Failure injection for the fail-to-a-person tests: ``CALLBOT_FAULTS=stt:after=1,tts,nlu:hang``.

Each named component fails at every use after its first ``after`` uses in the process
(default 0: from the first use on): a crashed component stays crashed, unless ``for=N``
limits the failure to N uses (then it works again). By default a failure raises
``InjectedFault``; with ``hang`` the worker thread doing the work blocks for good instead,
as a wedged native library would (``callbot/hangs.py`` turns that into a failure). Uses
are counted where the component is called for real: ``stt`` per final recognition result,
``nlu`` per embedded parse, ``kb`` per answer rendered, ``tts`` per sentence Piper
synthesises (cached prompts never reach Piper), ``bridge`` per message sent to the caller
(the bridge runs on the event loop: it cannot hang). Unset (production), ``check`` costs
one dict lookup.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass

from loguru import logger

ENV_VAR = "CALLBOT_FAULTS"
COMPONENTS = frozenset({"stt", "nlu", "kb", "tts", "bridge"})
#: Checked on the event loop, where a hang would freeze every call instead of one stage.
_LOOP_COMPONENTS = frozenset({"bridge"})


class InjectedFault(RuntimeError):
    """The failure ``CALLBOT_FAULTS`` asked for (a ``RuntimeError``, as a real crash would be)."""


@dataclass
class _Fault:
    after: int
    hang: bool = False
    times: int | None = None  # None: for good
    uses: int = 0

    def due(self) -> bool:
        failing = self.uses - self.after
        return failing > 0 and (self.times is None or failing <= self.times)


def _option(item: str, option: str, fault: _Fault) -> None:
    key, _, value = option.partition("=")
    if key == "hang" and not value:
        fault.hang = True
    elif key in ("after", "for") and value.isdigit():
        if key == "after":
            fault.after = int(value)
        else:
            fault.times = int(value)
    else:
        raise ValueError(f"{ENV_VAR}: {item!r}: options are after=N, for=N and hang")


def parse_faults(spec: str) -> dict[str, _Fault]:
    """``"stt:after=2,tts:hang"`` → one counter per component; ``ValueError`` on a bad spec."""
    faults: dict[str, _Fault] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, *options = item.split(":")
        if name not in COMPONENTS:
            raise ValueError(f"{ENV_VAR}: unknown component {name!r} "
                             f"(one of {', '.join(sorted(COMPONENTS))})")
        fault = _Fault(0)
        for option in options:
            _option(item, option, fault)
        if fault.hang and name in _LOOP_COMPONENTS:
            raise ValueError(f"{ENV_VAR}: {item!r}: {name} runs on the event loop, it cannot hang")
        faults[name] = fault
    return faults


_FAULTS = parse_faults(os.environ.get(ENV_VAR, ""))
_LOCK = threading.Lock()
_NEVER = threading.Event()  # never set: what a hung thread waits for
if _FAULTS:
    logger.warning(f"{ENV_VAR} is set: failures will be injected into {', '.join(_FAULTS)}")


def injected() -> bool:
    """Whether ``CALLBOT_FAULTS`` asks for any failure in this process."""
    return bool(_FAULTS)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def check(component: str) -> None:
    """Fail (raise, or hang this thread) if ``component`` is due to; call it where the work
    starts, in the worker thread for the components that can hang."""
    fault = _FAULTS.get(component)
    if fault is None:
        return
    with _LOCK:
        fault.uses += 1
        failing, use = fault.due(), fault.uses
    if not failing:
        return
    if not fault.hang:
        raise InjectedFault(f"injected {component} failure (use {use})")
    if _on_event_loop():  # a bug in where check() is called: never freeze every call
        raise InjectedFault(f"injected {component} hang asked for on the event loop (use {use})")
    logger.warning(f"injected {component} hang (use {use}): this thread blocks for good")
    _NEVER.wait()
