from datetime import datetime, timedelta
from uuid import UUID

import pytest

from domain.email import Email
from domain.errors import InvalidValue
from domain.ids import CustomerId, PurchaseId
from domain.money import Currency, Money
from domain.purchase import PaymentMismatch, PaymentStatus, Purchase, PurchaseStatus, Transition
from tests.unit.domain.factories import T0, purchase

LATER = T0 + timedelta(minutes=5)


def test_new_purchase_is_pending_and_open() -> None:
    p = purchase()
    assert p.status is PurchaseStatus.PENDING and p.is_open
    assert not PurchaseStatus.PENDING.is_final and PurchaseStatus.PAID.is_final and PurchaseStatus.CANCELED.is_final


@pytest.mark.parametrize("price", [Money(0), Money(-1)])
def test_purchase_costs_something(price: Money) -> None:
    with pytest.raises(InvalidValue):
        purchase(price=price)


def test_purchase_needs_aware_time() -> None:
    with pytest.raises(InvalidValue):
        Purchase(
            PurchaseId(UUID(int=1)), CustomerId(UUID(int=2)), Money(1), Email("a@example.com"), datetime(2026, 1, 1)
        )


def test_pending_to_paid() -> None:
    p = purchase()
    assert p.apply(PaymentStatus.SUCCEEDED, LATER) is Transition.PAID
    assert (p.status, p.paid_at, p.canceled_at, p.is_open) == (PurchaseStatus.PAID, LATER, None, False)


def test_pending_to_canceled() -> None:
    p = purchase()
    assert p.apply(PaymentStatus.CANCELED, LATER) is Transition.CANCELED
    assert (p.status, p.canceled_at, p.paid_at) == (PurchaseStatus.CANCELED, LATER, None)


@pytest.mark.parametrize("status", [PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE])
def test_open_statuses_leave_a_pending_purchase_unchanged(status: PaymentStatus) -> None:
    p = purchase()
    assert p.apply(status, LATER) is Transition.UNCHANGED
    assert p.status is PurchaseStatus.PENDING and p.paid_at is None


def test_duplicate_success_is_unchanged_and_keeps_the_first_time() -> None:
    p = purchase()
    p.apply(PaymentStatus.SUCCEEDED, LATER)
    assert p.apply(PaymentStatus.SUCCEEDED, LATER + timedelta(hours=1)) is Transition.UNCHANGED
    assert p.paid_at == LATER


@pytest.mark.parametrize(
    ("status", "transition"),
    [
        (PaymentStatus.CANCELED, Transition.IGNORED_FINAL),
        (PaymentStatus.PENDING, Transition.UNCHANGED),
        (PaymentStatus.WAITING_FOR_CAPTURE, Transition.UNCHANGED),
    ],
)
def test_paid_never_changes_back(status: PaymentStatus, transition: Transition) -> None:
    p = purchase()
    p.apply(PaymentStatus.SUCCEEDED, LATER)
    assert p.apply(status, LATER + timedelta(hours=1)) is transition
    assert (p.status, p.paid_at, p.canceled_at) == (PurchaseStatus.PAID, LATER, None)


def test_canceled_never_becomes_paid() -> None:
    p = purchase()
    p.apply(PaymentStatus.CANCELED, LATER)
    assert p.apply(PaymentStatus.SUCCEEDED, LATER) is Transition.IGNORED_FINAL
    assert p.apply(PaymentStatus.CANCELED, LATER) is Transition.UNCHANGED
    assert (p.status, p.paid_at) == (PurchaseStatus.CANCELED, None)


def test_attach_payment() -> None:
    p = purchase()
    p.attach_payment("pay-1", "https://pay/1")
    assert (p.payment_id, p.confirmation_url) == ("pay-1", "https://pay/1")
    p.attach_payment("pay-1", "https://pay/1b")  # the same payment again is fine
    with pytest.raises(PaymentMismatch):
        p.attach_payment("pay-2", "https://pay/2")
    assert p.payment_id == "pay-1"
    with pytest.raises(InvalidValue):
        purchase().attach_payment("", None)


def test_check_payment_accepts_its_own_payment() -> None:
    p = purchase()
    p.check_payment("pay-1", p.price, p.id)  # before a payment is attached
    p.attach_payment("pay-1", None)
    p.check_payment("pay-1", Money(p.price.minor), p.id)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Money(498_999)},
        {"amount": Money(499_001)},
        {"amount": Money(499_000, Currency("USD"))},
        {"purchase_id": PurchaseId(UUID(int=999_999))},
        {"purchase_id": None},
        {"payment_id": "pay-other"},
    ],
)
def test_check_payment_refuses_mismatches(change: dict[str, object]) -> None:
    p = purchase()
    p.attach_payment("pay-1", None)
    values: dict[str, object] = {"payment_id": "pay-1", "amount": p.price, "purchase_id": p.id} | change
    with pytest.raises(PaymentMismatch):
        p.check_payment(values["payment_id"], values["amount"], values["purchase_id"])  # type: ignore[arg-type]
    assert p.status is PurchaseStatus.PENDING


def test_a_purchase_id_of_another_kind_is_a_mismatch() -> None:
    p = purchase()
    with pytest.raises(PaymentMismatch):
        p.check_payment("pay-1", p.price, CustomerId(p.id.value))  # type: ignore[arg-type]
