"""Small factories of domain objects for the storage tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from domain.access import AccessGrant
from domain.customer import Customer, Language
from domain.email import Email
from domain.ids import AccessGrantId, CustomerId, LedgerEntryId, OutboxMessageId, PurchaseId, ReferralCode, TelegramId
from domain.ledger import EntryKind, LedgerEntry
from domain.money import RUB, Money
from domain.outbox import OutboxKind, OutboxMessage
from domain.purchase import Purchase

# Microseconds on purpose: storage must not round them away.
T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
MSK = timezone(timedelta(hours=3))

_numbers = itertools.count(1000)


def customer(telegram_id: int | None = None, *, referrer: Customer | None = None, **overrides: Any) -> Customer:
    n = next(_numbers)
    values: dict[str, Any] = {
        "id": CustomerId(uuid.uuid4()),
        "telegram_id": TelegramId(telegram_id if telegram_id is not None else n),
        "referral_code": ReferralCode(f"code{n:06d}"),
        "registered_at": T0,
        "username": None,
        "first_name": "",
        "language": Language.RU,
    }
    if referrer is not None:
        values["referrer_id"] = referrer.id
        values["referred_at"] = T0 + timedelta(minutes=1)
    values.update(overrides)
    return Customer(**values)


def purchase(buyer: Customer, **overrides: Any) -> Purchase:
    values: dict[str, Any] = {
        "id": PurchaseId(uuid.uuid4()),
        "customer_id": buyer.id,
        "price": Money(499_000, RUB),
        "email": Email("Buyer.Name+course@Example.COM"),
        "created_at": T0,
    }
    values.update(overrides)
    return Purchase(**values)


def entry(referrer: Customer, minor: int, **overrides: Any) -> LedgerEntry:
    values: dict[str, Any] = {
        "id": LedgerEntryId(uuid.uuid4()),
        "referrer_id": referrer.id,
        "kind": EntryKind.REFERRAL_CREDIT if minor > 0 else EntryKind.PAYOUT,
        "amount": Money(minor, RUB),
        "key": f"test:{uuid.uuid4()}",
        "created_at": T0,
    }
    values.update(overrides)
    return LedgerEntry(**values)


def grant(bought: Purchase, **overrides: Any) -> AccessGrant:
    values: dict[str, Any] = {
        "id": AccessGrantId(uuid.uuid4()),
        "purchase_id": bought.id,
        "customer_id": bought.customer_id,
        "invite_link": f"https://t.me/+invite{uuid.uuid4().hex[:10]}",
        "issued_at": T0,
        "expires_at": T0 + timedelta(hours=24),
    }
    values.update(overrides)
    return AccessGrant(**values)


def message(key: str | None = None, **overrides: Any) -> OutboxMessage:
    values: dict[str, Any] = {
        "id": OutboxMessageId(uuid.uuid4()),
        "key": key or f"test:{uuid.uuid4()}",
        "kind": OutboxKind.TELEGRAM_MESSAGE,
        "payload": {
            "telegram_id": 42,
            "text": "Привет, <b>мир</b> ✓",
            "buttons": [{"text": "Go", "url": "https://t.me/x"}],
        },
        "created_at": T0,
    }
    values.update(overrides)
    return OutboxMessage(**values)
