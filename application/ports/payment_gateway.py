from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.email import Email
from domain.ids import PurchaseId
from domain.money import Money
from domain.purchase import PaymentStatus


class PaymentGatewayError(Exception):
    """Base of what a payment gateway raises."""


class PaymentGatewayUnavailable(PaymentGatewayError):
    """The provider could not be reached or failed (timeout, refused, 5xx): try again later with
    the same idempotency key."""


class PaymentGatewayRejected(PaymentGatewayError):
    """The provider refused the request (4xx): repeating it will not help."""


class PaymentNotFound(PaymentGatewayError):
    """The provider knows no payment with that id."""


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    purchase_id: PurchaseId
    amount: Money
    description: str
    return_url: str
    customer_email: Email
    receipt: bool  # attach a 54-FZ receipt with the buyer's email
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Payment:
    """The provider's view of a payment; only what the provider answered is trusted."""

    payment_id: str
    status: PaymentStatus
    amount: Money
    purchase_id: PurchaseId | None  # from the payment's metadata; None when absent or malformed
    confirmation_url: str | None = None


class PaymentGateway(Protocol):
    async def create_payment(self, request: PaymentRequest) -> Payment: ...

    async def fetch_payment(self, payment_id: str) -> Payment: ...
