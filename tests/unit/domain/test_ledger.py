from datetime import datetime, timedelta
from uuid import UUID

import pytest

from domain.errors import InvalidValue
from domain.ids import CustomerId, LedgerEntryId, PurchaseId
from domain.ledger import EntryKind, LedgerEntry, credit_key, referral_credit
from domain.money import Money, Percent
from domain.purchase import PaymentStatus
from tests.unit.domain.factories import T0, purchase

REFERRER = CustomerId(UUID(int=1))


def entry(kind: EntryKind, minor: int, key: str = "k", at: datetime = T0) -> LedgerEntry:
    return LedgerEntry(LedgerEntryId(UUID(int=7)), REFERRER, kind, Money(minor), key, at)


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (EntryKind.REFERRAL_CREDIT, 100, -100),
        (EntryKind.PAYOUT_REVERSAL, 100, -100),
        (EntryKind.CLAWBACK, -100, 100),
        (EntryKind.PAYOUT, -100, 100),
    ],
)
def test_kinds_fix_their_sign(kind: EntryKind, good: int, bad: int) -> None:
    assert entry(kind, good).amount == Money(good)
    with pytest.raises(InvalidValue):
        entry(kind, bad)


def test_adjustment_may_go_either_way() -> None:
    assert entry(EntryKind.ADJUSTMENT, 5).amount == Money(5)
    assert entry(EntryKind.ADJUSTMENT, -5).amount == Money(-5)


@pytest.mark.parametrize("kind", list(EntryKind))
def test_no_entry_moves_nothing(kind: EntryKind) -> None:
    with pytest.raises(InvalidValue):
        entry(kind, 0)


@pytest.mark.parametrize("key", ["", "x" * 201])
def test_entry_needs_a_key(key: str) -> None:
    with pytest.raises(InvalidValue):
        entry(EntryKind.REFERRAL_CREDIT, 1, key=key)


def test_entry_needs_aware_time() -> None:
    with pytest.raises(InvalidValue):
        entry(EntryKind.REFERRAL_CREDIT, 1, at=datetime(2026, 1, 1))


def _paid(price: Money = Money(499_000)):  # type: ignore[no-untyped-def]
    p = purchase(price=price)
    p.apply(PaymentStatus.SUCCEEDED, T0 + timedelta(minutes=1))
    return p


@pytest.mark.parametrize(
    ("price", "bp", "expected"),
    [(499_000, 1000, 49_900), (499_999, 1000, 49_999), (1999, 1250, 249), (11, 1000, 1)],
)
def test_referral_credit_is_the_share_rounded_down(price: int, bp: int, expected: int) -> None:
    p = _paid(Money(price))
    credit = referral_credit(LedgerEntryId(UUID(int=5)), REFERRER, p, Percent(bp), T0)
    assert credit is not None
    assert credit.amount == Money(expected)
    assert (credit.kind, credit.key, credit.purchase_id, credit.referrer_id) == (
        EntryKind.REFERRAL_CREDIT,
        credit_key(p.id),
        p.id,
        REFERRER,
    )
    assert credit.key == f"credit:{p.id}"


@pytest.mark.parametrize(("price", "bp"), [(9, 1000), (1, 9999), (499_000, 0)])
def test_referral_credit_is_none_when_it_rounds_to_nothing(price: int, bp: int) -> None:
    assert referral_credit(LedgerEntryId(UUID(int=5)), REFERRER, _paid(Money(price)), Percent(bp), T0) is None


@pytest.mark.parametrize("status", [None, PaymentStatus.CANCELED])
def test_referral_credit_refuses_an_unpaid_purchase(status: PaymentStatus | None) -> None:
    p = purchase()
    if status is not None:
        p.apply(status, T0)
    with pytest.raises(InvalidValue):
        referral_credit(LedgerEntryId(UUID(int=5)), REFERRER, p, Percent(1000), T0)


def test_one_purchase_one_credit_key() -> None:
    first, second = PurchaseId(UUID(int=3)), PurchaseId(UUID(int=4))
    assert credit_key(first) == credit_key(PurchaseId(UUID(int=3)))
    assert credit_key(first) != credit_key(second)
