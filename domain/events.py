"""Domain events: facts about the business that an aggregate records when its state changes.

An aggregate appends its events to ``events`` as it changes; the use case hands them to the
application's message bus before it commits, and the handlers registered for each event react
inside the same transaction (cosmicpython's pattern). Events are immutable and carry the ids and
values a reaction needs; a handler loads anything else it wants through the unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.ids import AccessGrantId, CustomerId, LedgerEntryId, PurchaseId, TelegramId
from domain.money import Money


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base of every event."""


# --- purchases --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurchasePaid(DomainEvent):
    """A customer's first paid purchase: they are owed access, their referrer a commission."""

    purchase_id: PurchaseId
    customer_id: CustomerId
    price: Money
    at: datetime


@dataclass(frozen=True, slots=True)
class DuplicatePaymentReceived(DomainEvent):
    """A customer who had paid already paid again. The money arrived, so the purchase is paid,
    but it grants nothing and credits no one: it is to be refunded."""

    purchase_id: PurchaseId
    customer_id: CustomerId
    earlier_purchase_id: PurchaseId
    payment_id: str | None
    price: Money
    at: datetime


@dataclass(frozen=True, slots=True)
class PurchaseCanceled(DomainEvent):
    purchase_id: PurchaseId
    customer_id: CustomerId
    at: datetime


@dataclass(frozen=True, slots=True)
class PurchaseAbandoned(DomainEvent):
    """We closed a pending purchase whose payment could not go on (refused by the provider, or
    unknown to it); the next checkout starts a new one."""

    purchase_id: PurchaseId
    customer_id: CustomerId
    at: datetime


@dataclass(frozen=True, slots=True)
class PaymentMismatched(DomainEvent):
    """The provider reported a payment for this purchase that does not match it (amount,
    currency, purchase or payment id). The purchase is left as it was, and it blocks new
    payments beside it until a person has looked."""

    purchase_id: PurchaseId
    customer_id: CustomerId
    payment_id: str
    reported: Money
    price: Money
    reason: str


# --- referrals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferralCredited(DomainEvent):
    """A commission entry was booked in the referral ledger."""

    entry_id: LedgerEntryId
    referrer_id: CustomerId
    purchase_id: PurchaseId
    amount: Money


# --- course access ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourseLinkPassedOn(DomainEvent):
    """Somebody who may not be in the course chat joined it by a buyer's one-time link."""

    grant_id: AccessGrantId
    owner_id: CustomerId
    joiner: TelegramId
