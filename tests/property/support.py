"""Shared settings of the property tests. Under the ``ci`` profile (the default, see
``tests/conftest.py``) they are deterministic and bounded, so the folder runs fast and the same
way every time; under ``explore`` they are randomized and run ten times the examples."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from hypothesis import settings

from tests.integration.sql.wiring import sql_harness, sqlite_copy
from tests.unit.harness import Harness

T = TypeVar("T")

BASELINE_PROFILE = "ci"


def _example_scale() -> float:
    """The active profile's example budget relative to the ``ci`` profile's: 1 under ``ci``, 10
    under ``explore``."""
    if settings.get_current_profile_name() == "default":
        raise RuntimeError(
            "no Hypothesis profile is loaded: run the property tests with pytest, whose tests/conftest.py "
            "loads the one HYPOTHESIS_PROFILE names"
        )
    return settings.default.max_examples / settings.get_profile(BASELINE_PROFILE).max_examples


def deterministic(max_examples: int) -> settings:
    """The settings of a property test that runs ``max_examples`` examples under ``ci``. Everything
    but the number of examples comes from the active Hypothesis profile (derandomized without an
    example database under ``ci``; randomized, with the database and ``print_blob``, under
    ``explore``), and the number is scaled by that profile's budget. Evaluated when the test module
    is imported, after ``tests/conftest.py`` loaded the profile."""
    return settings(max_examples=max(1, round(max_examples * _example_scale())))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs one example's scenario in a fresh event loop (the fakes' lock belongs to it)."""
    return asyncio.run(coro)


MEMORY = "memory"
SQLITE = "sqlite"
BACKENDS = [MEMORY, SQLITE]


@asynccontextmanager
async def harness_on(backend: str) -> AsyncIterator[Harness]:
    """The use cases on a fresh, empty store of ``backend``: the in-memory fake, or a migrated
    SQLite database of their own (a copy of one template, disposed of afterwards).
    ``await h.state()`` / ``await h.committed()`` read what it committed either way."""
    if backend == MEMORY:
        yield Harness()
        return
    if backend != SQLITE:
        raise ValueError(f"unknown backend {backend!r}")
    async with sqlite_copy() as engine:
        yield sql_harness(engine)
