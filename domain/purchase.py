"""A purchase of the course: one attempt to pay, from checkout to a final state."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from domain.email import Email
from domain.errors import DomainError, InvalidValue
from domain.events import (
    DomainEvent,
    DuplicatePaymentReceived,
    PaymentMismatched,
    PurchaseAbandoned,
    PurchaseCanceled,
    PurchasePaid,
)
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
    DUPLICATE_PAYMENT = "duplicate_payment"  # paid, but the customer had paid for the course already
    CANCELED = "canceled"
    UNCHANGED = "unchanged"  # still pending, or a duplicate of the state we already hold
    IGNORED_FINAL = "ignored_final"  # a contradicting status after a final state: never changes back
    MISMATCH = "mismatch"  # the provider's payment is not this purchase's: refused, nothing changed


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
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

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

    def abandon(self, at: datetime) -> bool:
        """Closes a pending purchase whose payment cannot go on (the provider refused to make it,
        or does not know it): canceled on our side, recording ``PurchaseAbandoned`` (the buyer
        did nothing wrong and is not told the payment failed). ``False`` if it was not pending."""
        if not self.is_open:
            return False
        self.status = PurchaseStatus.CANCELED
        self.canceled_at = at
        self.events.append(PurchaseAbandoned(self.id, self.customer_id, at))
        return True

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded since the last call, oldest first; the list is emptied."""
        events, self.events = self.events, []
        return events

    def payment_reported(
        self,
        payment_id: str,
        status: PaymentStatus,
        amount: Money,
        purchase_id: PurchaseId | None,
        at: datetime,
        *,
        earlier_paid: PurchaseId | None = None,
    ) -> Transition:
        """The provider reports ``status`` for a payment that claims to pay for this purchase.

        A payment that does not match (``check_payment``) changes nothing and records
        ``PaymentMismatched``; otherwise the payment is attached (if it was not yet) and the
        status applied (see ``apply``)."""
        try:
            self.check_payment(payment_id, amount, purchase_id)
        except PaymentMismatch as exc:
            self.events.append(
                PaymentMismatched(self.id, self.customer_id, payment_id, amount, self.price, reason=str(exc))
            )
            return Transition.MISMATCH
        if self.payment_id is None:
            self.attach_payment(payment_id, self.confirmation_url)
        return self.apply(status, at, earlier_paid=earlier_paid)

    def apply(self, status: PaymentStatus, at: datetime, *, earlier_paid: PurchaseId | None = None) -> Transition:
        """Moves to the state the provider reports; a final state never changes back.

        Becoming paid records ``PurchasePaid``, or ``DuplicatePaymentReceived`` when
        ``earlier_paid`` names another purchase the customer has paid for: the money arrived, so
        this purchase is paid as well, but it is owed a refund rather than access. Becoming
        canceled records ``PurchaseCanceled``."""
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
            if earlier_paid is not None and earlier_paid != self.id:
                self.events.append(
                    DuplicatePaymentReceived(self.id, self.customer_id, earlier_paid, self.payment_id, self.price, at)
                )
                return Transition.DUPLICATE_PAYMENT
            self.events.append(PurchasePaid(self.id, self.customer_id, self.price, at))
            return Transition.PAID
        self.canceled_at = at
        self.events.append(PurchaseCanceled(self.id, self.customer_id, at))
        return Transition.CANCELED
