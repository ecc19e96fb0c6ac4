"""Hypothesis settings for the fuzz tests, and the one way they feed a surface.

Profiles scale every test's example count: ``fuzz-ci`` (default, a few thousand inputs per
surface, well under a minute in all), ``fuzz-quick`` (a tenth, while editing) and
``fuzz-long`` (twenty times, by hand). Pick one with ``CALLBOT_FUZZ_PROFILE``. Runs are
derandomized so that CI is repeatable; ``callbot bench fuzz`` explores with fresh inputs.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from loguru import logger

from callbot.fuzz.mutate import Mutator
from callbot.fuzz.surface import Surface, check

_SCALES = {"fuzz-ci": 1.0, "fuzz-quick": 0.1, "fuzz-long": 20.0}
for _name in _SCALES:
    settings.register_profile(_name, deadline=None, derandomize=True, database=None,
                              suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
PROFILE = os.environ.get("CALLBOT_FUZZ_PROFILE", "fuzz-ci")


def examples(count: int) -> settings:
    """Settings for ``count`` examples in CI, scaled by the chosen profile."""
    return settings(settings.get_profile(PROFILE),
                    max_examples=max(10, int(count * _SCALES[PROFILE])))


def mutated(surface: Surface, seeds: tuple[bytes, ...] | None = None) -> st.SearchStrategy[bytes]:
    """Inputs made by the benchmark's mutator, driven by hypothesis' randomness."""
    return st.builds(lambda seed: Mutator(seeds or surface.seeds, surface.tokens,
                                          random.Random(seed)).next(),
                     st.integers(0, 2**32))


#: One loop for every fuzz test: a surface with a server (the web app) lives on it.
LOOP = asyncio.new_event_loop()


def feed(surface: Surface, data: bytes) -> str:
    """The outcome label; any exception that is not a clear refusal fails the test."""
    return LOOP.run_until_complete(check(surface, data))


@pytest.fixture(autouse=True, scope="module")
def quiet_refusals() -> Iterator[None]:
    """Each refusal logs a warning: thousands of lines, and most of the run time, otherwise."""
    logger.disable("callbot")
    yield
    logger.enable("callbot")
