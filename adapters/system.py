"""The real clock and id generator."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from application.ports.system import Clock, IdGenerator


class UtcClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIdGenerator(IdGenerator):
    def new_uuid(self) -> uuid.UUID:
        return uuid.uuid4()

    def referral_code(self) -> str:
        # 10 characters of base64url: 60 random bits; a collision is refused by a unique index.
        return secrets.token_urlsafe(8)[:10]
