"""A purchase of the course: one attempt to pay, from checkout to a final state."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from domain.email import Email
from domain.errors import DomainError, InvalidValue
from domain.ids import CustomerId, PurchaseId
from domain.money import Money


class PurchaseStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self is not PurchaseStatus.PENDING


class PaymentStatus(enum.StrEnum):
    """A payment's status at the payment provider (YooKassa's vocabulary)."""

    PENDING = "pending"
    WAITING_FOR_CAPTURE = "waiting_for_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class PaymentMismatch(DomainError):
    """The provider's payment does not match the purchase it claims to pay for."""


class Transition(enum.StrEnum):
    """What applying a provider status did to a purchase."""

    PAID = "paid"
    CANCELED = "canceled"
    UNCHANGED = "unchanged"  # still pending, or a duplicate of the state we already hold
    IGNORED_FINAL = "ignored_final"  # a contradicting status after a final state: never changes back


@dataclass(slots=True)
class Purchase:
    id: PurchaseId
    customer_id: CustomerId
    price: Money
    email: Email
    created_at: datetime
    status: PurchaseStatus = PurchaseStatus.PENDING
    payment_id: str | None = None
    confirmation_url: str | None = None
    paid_at: datetime | None = None
    canceled_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.price.is_positive:
            raise InvalidValue(f"a purchase costs more than nothing, got {self.price}")
        if self.created_at.tzinfo is None:
            raise InvalidValue("created_at must carry a time zone")

    @property
    def is_open(self) -> bool:
        return self.status is PurchaseStatus.PENDING

    def attach_payment(self, payment_id: str, confirmation_url: str | None) -> None:
        if not payment_id:
            raise InvalidValue("a payment id cannot be empty")
        if self.payment_id is not None and self.payment_id != payment_id:
            raise PaymentMismatch(f"purchase {self.id} is already paid by payment {self.payment_id}")
        self.payment_id = payment_id
        self.confirmation_url = confirmation_url

    def check_payment(self, payment_id: str, amount: Money, purchase_id: PurchaseId | None) -> None:
        """Raises ``PaymentMismatch`` unless the provider's payment is exactly this purchase's."""
        if purchase_id != self.id:
            raise PaymentMismatch(f"payment {payment_id} names purchase {purchase_id}, not {self.id}")
        if self.payment_id is not None and payment_id != self.payment_id:
            raise PaymentMismatch(f"purchase {self.id} belongs to payment {self.payment_id}, not {payment_id}")
        if amount != self.price:
            raise PaymentMismatch(f"payment {payment_id} is for {amount}, purchase {self.id} costs {self.price}")

    def apply(self, status: PaymentStatus, at: datetime) -> Transition:
        """Moves to the state the provider reports; a final state never changes back."""
        if status is PaymentStatus.SUCCEEDED:
            target = PurchaseStatus.PAID
        elif status is PaymentStatus.CANCELED:
            target = PurchaseStatus.CANCELED
        else:
            return Transition.UNCHANGED
        if self.status is target:
            return Transition.UNCHANGED
        if self.status.is_final:
            return Transition.IGNORED_FINAL
        self.status = target
        if target is PurchaseStatus.PAID:
            self.paid_at = at
            return Transition.PAID
        self.canceled_at = at
        return Transition.CANCELED
