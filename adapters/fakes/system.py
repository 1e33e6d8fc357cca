from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from application.ports.system import Clock, IdGenerator


class FakeClock(Clock):
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class SequentialIds(IdGenerator):
    """Predictable ids, so test failures are readable."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def new_uuid(self) -> uuid.UUID:
        return uuid.UUID(int=next(self._n))

    def referral_code(self) -> str:
        return f"ref{next(self._n):07d}"
