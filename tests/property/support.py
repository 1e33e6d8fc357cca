"""Shared settings of the property tests: deterministic and bounded, so the folder runs fast and
the same way every time."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")


def deterministic(max_examples: int) -> settings:
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=max_examples,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=False,
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs one example's scenario in a fresh event loop (the fakes' lock belongs to it)."""
    return asyncio.run(coro)
