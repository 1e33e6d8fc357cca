"""The referral ledger: append-only entries per referrer; a balance is the sum of its entries.

Nothing is ever updated or deleted. A commission is a positive entry; a later payout, a refund
clawback or a manual correction is another entry with its own kind and sign. Each entry carries a
``key`` naming the business event it records (``credit:<purchase id>``, ``payout:<payout id>``),
unique across the ledger, so one event can never be counted twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidValue
from domain.ids import CustomerId, LedgerEntryId, PurchaseId
from domain.money import Money, Percent
from domain.purchase import Purchase, PurchaseStatus


class EntryKind(enum.StrEnum):
    REFERRAL_CREDIT = "referral_credit"  # + the referrer's share of a paid purchase
    CLAWBACK = "clawback"  # - a credit taken back because the purchase was refunded
    PAYOUT = "payout"  # - money sent (or reserved for sending) to the referrer
    PAYOUT_REVERSAL = "payout_reversal"  # + a failed payout gives the money back
    ADJUSTMENT = "adjustment"  # ± a correction made by an operator

    @property
    def sign(self) -> int:
        """+1 or -1 where the kind fixes the sign, 0 where either is allowed."""
        return {
            EntryKind.REFERRAL_CREDIT: 1,
            EntryKind.CLAWBACK: -1,
            EntryKind.PAYOUT: -1,
            EntryKind.PAYOUT_REVERSAL: 1,
            EntryKind.ADJUSTMENT: 0,
        }[self]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: LedgerEntryId
    referrer_id: CustomerId
    kind: EntryKind
    amount: Money
    key: str
    created_at: datetime
    purchase_id: PurchaseId | None = None

    def __post_init__(self) -> None:
        if self.amount.minor == 0:
            raise InvalidValue("a ledger entry moves some money")
        sign = self.kind.sign
        if sign and (self.amount.minor > 0) != (sign > 0):
            raise InvalidValue(f"a {self.kind} entry is {'positive' if sign > 0 else 'negative'}, got {self.amount}")
        if not self.key or len(self.key) > 200:
            raise InvalidValue("a ledger entry needs a key of 1-200 characters")
        if self.created_at.tzinfo is None:
            raise InvalidValue("created_at must carry a time zone")


def credit_key(purchase_id: PurchaseId) -> str:
    """The commission a paid purchase earned its buyer's referrer."""
    return f"credit:{purchase_id}"


def referral_credit(
    entry_id: LedgerEntryId,
    referrer_id: CustomerId,
    purchase: Purchase,
    rate: Percent,
    at: datetime,
) -> LedgerEntry | None:
    """The commission entry for a paid purchase: ``rate`` of its price rounded down to the kopeck
    (``Money.share``); ``None`` when that rounds to nothing."""
    if purchase.status is not PurchaseStatus.PAID:
        raise InvalidValue(f"only a paid purchase earns a commission, {purchase.id} is {purchase.status}")
    share = purchase.price.share(rate)
    if not share.is_positive:
        return None
    return LedgerEntry(
        id=entry_id,
        referrer_id=referrer_id,
        kind=EntryKind.REFERRAL_CREDIT,
        amount=share,
        key=credit_key(purchase.id),
        created_at=at,
        purchase_id=purchase.id,
    )
