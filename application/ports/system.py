from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, time-zone aware (UTC)."""
        ...


class IdGenerator(Protocol):
    def new_uuid(self) -> UUID: ...

    def referral_code(self) -> str:
        """A fresh random referral code (URL-safe, 6-32 characters)."""
        ...
