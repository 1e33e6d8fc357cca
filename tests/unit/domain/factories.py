"""Small builders of domain objects for the domain tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

from domain.customer import Customer
from domain.email import Email
from domain.ids import CustomerId, PurchaseId, ReferralCode, TelegramId
from domain.money import Money
from domain.purchase import Purchase

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
_n = itertools.count(1)


def customer(referrer: Customer | None = None) -> Customer:
    n = next(_n)
    return Customer(
        id=CustomerId(UUID(int=n)),
        telegram_id=TelegramId(n),
        referral_code=ReferralCode(f"code{n:06d}"),
        registered_at=T0,
        first_name=f"User {n}",
        referrer_id=referrer.id if referrer else None,
        referred_at=T0 if referrer else None,
    )


def purchase(price: Money = Money(499_000), buyer: Customer | None = None) -> Purchase:
    return Purchase(
        id=PurchaseId(UUID(int=10_000 + next(_n))),
        customer_id=(buyer or customer()).id,
        price=price,
        email=Email("buyer@example.com"),
        created_at=T0,
    )
