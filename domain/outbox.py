"""Messages caused by a state change, stored in the same transaction and delivered after commit."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.errors import InvalidValue
from domain.ids import OutboxMessageId


class OutboxKind(enum.StrEnum):
    GRANT_ACCESS = "access.grant"  # issue the buyer's invite link, then message it by Telegram and email
    TELEGRAM_MESSAGE = "telegram.message"
    EMAIL_MESSAGE = "email.message"


@dataclass(slots=True)
class OutboxMessage:
    """``key`` names the event that caused the message and is unique: writing the same event
    twice stores one message. It is also the idempotency key handed to the provider."""

    id: OutboxMessageId
    key: str
    kind: OutboxKind
    payload: dict[str, Any]
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None  # given up on: a permanent error
    last_error: str | None = None

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > 200:
            raise InvalidValue("an outbox message needs a key of 1-200 characters")
        if self.next_attempt_at is None:
            self.next_attempt_at = self.created_at

    @property
    def is_done(self) -> bool:
        return self.delivered_at is not None or self.failed_at is not None

    def delivered(self, at: datetime) -> None:
        self.attempts += 1
        self.delivered_at = at
        self.last_error = None

    def failed(self, at: datetime, error: str, *, permanent: bool, max_attempts: int) -> None:
        """Schedules the next try with exponential backoff (2 s, 4 s, ... capped at 10 min), or
        gives up after a permanent error or ``max_attempts`` tries."""
        self.attempts += 1
        self.last_error = error[:1000]
        if permanent or self.attempts >= max_attempts:
            self.failed_at = at
            return
        self.next_attempt_at = at + retry_delay(self.attempts)


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** min(attempts, 20), 600))
