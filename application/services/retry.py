from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from application.ports.unit_of_work import ConcurrencyConflict

T = TypeVar("T")


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Runs ``attempt`` again when it lost a race to another transaction; the next run sees the
    winner's committed result."""
    for remaining in range(attempts - 1, -1, -1):
        try:
            return await attempt()
        except ConcurrencyConflict:
            if not remaining:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
