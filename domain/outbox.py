"""Messages caused by a state change, stored in the same transaction and delivered after commit."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.errors import DomainError, InvalidValue
from domain.ids import AccessGrantId, OutboxMessageId, PurchaseId, TelegramId


class OutboxKind(enum.StrEnum):
    GRANT_ACCESS = "access.grant"  # issue the buyer's invite link, then send it by Telegram and email
    TELEGRAM_NOTICE = "telegram.notice"  # a typed notice, rendered in the recipient's language on delivery
    EMAIL_NOTICE = "email.notice"
    TELEGRAM_MESSAGE = "telegram.message"  # a text written already (kept for messages queued before notices)
    EMAIL_MESSAGE = "email.message"


@dataclass(slots=True)
class OutboxMessage:
    """``key`` names the event that caused the message and is unique: writing the same event
    twice stores one message. It is also the idempotency key handed to a provider that takes one
    (email). Telegram takes none, so a Telegram message is delivered **at least once**: if the
    process dies after Telegram accepted a message and before its delivery was recorded, it is
    sent again."""

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

    def defer(self, until: datetime) -> None:
        """Not tried: the channel said "not now" (a rate limit). The next attempt moves to
        ``until``; attempts and the last error stay as they were, so waiting never brings the
        message closer to being given up on."""
        if self.is_done:
            raise DomainError(f"outbox message {self.key} is done and cannot be deferred")
        self.next_attempt_at = until

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


# --- keys: one function per event a message records ---------------------------------------------
# A key names the business event and the recipient, so that recording the same event twice
# queues one message. Changing a key's shape would let an event recorded before and after the
# change queue two messages: keep them stable.


def access_grant_key(purchase_id: PurchaseId) -> str:
    """Issuing the buyer's link for a paid purchase."""
    return f"purchase:{purchase_id}:access"


def access_link_telegram_key(grant_key: str) -> str:
    """The link issued for ``grant_key``, sent by Telegram."""
    return f"{grant_key}:telegram"


def access_link_email_key(grant_key: str) -> str:
    """The link issued for ``grant_key``, sent by email."""
    return f"{grant_key}:email"


def sale_notice_key(purchase_id: PurchaseId) -> str:
    """The admins' note about a sale."""
    return f"purchase:{purchase_id}"


def referrer_credit_notice_key(purchase_id: PurchaseId) -> str:
    """The referrer's note about the commission a purchase earned them."""
    return f"purchase:{purchase_id}:referrer"


def payment_canceled_notice_key(purchase_id: PurchaseId) -> str:
    return f"purchase:{purchase_id}:canceled"


def duplicate_payment_notice_key(purchase_id: PurchaseId) -> str:
    return f"purchase:{purchase_id}:duplicate"


def payment_mismatch_notice_key(purchase_id: PurchaseId, payment_id: str) -> str:
    return f"purchase:{purchase_id}:mismatch:{payment_id}"


def link_passed_on_notice_key(grant_id: AccessGrantId, joiner: TelegramId) -> str:
    return f"grant:{grant_id}:intruder:{joiner}"


def admin_copy_key(key: str, admin_id: TelegramId) -> str:
    """One admin's copy of the message ``key`` that goes to every admin."""
    return f"{key}:admin:{admin_id}"
