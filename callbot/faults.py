"""Failure injection for the fail-to-a-person tests: ``CALLBOT_FAULTS=stt:after=1,tts``.

Each named component fails (raises ``InjectedFault``) at every use after its first
``after`` uses in the process (default 0: from the first use on): a crashed component
stays crashed. Uses are counted where the component is called for real: ``stt`` per final
recognition result, ``nlu`` per embedded parse, ``kb`` per answer rendered, ``tts`` per
sentence Piper synthesises (cached prompts never reach Piper), ``bridge`` per message sent
to the caller. Unset (production), ``check`` costs one dict lookup.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from loguru import logger

ENV_VAR = "CALLBOT_FAULTS"
COMPONENTS = frozenset({"stt", "nlu", "kb", "tts", "bridge"})


class InjectedFault(RuntimeError):
    """The failure ``CALLBOT_FAULTS`` asked for (a ``RuntimeError``, as a real crash would be)."""


@dataclass
class _Fault:
    after: int
    uses: int = 0


def parse_faults(spec: str) -> dict[str, _Fault]:
    """``"stt:after=2,tts"`` → one counter per component; raises ``ValueError`` on a bad spec."""
    faults: dict[str, _Fault] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, option = item.partition(":")
        if name not in COMPONENTS:
            raise ValueError(f"{ENV_VAR}: unknown component {name!r} "
                             f"(one of {', '.join(sorted(COMPONENTS))})")
        after = 0
        if option:
            key, _, value = option.partition("=")
            if key != "after" or not value.isdigit():
                raise ValueError(f"{ENV_VAR}: {item!r}: the only option is after=N")
            after = int(value)
        faults[name] = _Fault(after)
    return faults


_FAULTS = parse_faults(os.environ.get(ENV_VAR, ""))
_LOCK = threading.Lock()
if _FAULTS:
    logger.warning(f"{ENV_VAR} is set: failures will be injected into {', '.join(_FAULTS)}")


def check(component: str) -> None:
    """Raise ``InjectedFault`` if ``component`` is due to fail; call it where the work starts."""
    fault = _FAULTS.get(component)
    if fault is None:
        return
    with _LOCK:
        fault.uses += 1
        failing = fault.uses > fault.after
    if failing:
        raise InjectedFault(f"injected {component} failure (use {fault.uses})")
