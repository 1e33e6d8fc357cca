"""What happens, inside the same transaction, when a purchase changes."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from application.notices import DuplicatePaymentNotice, PaymentCanceledNotice, PaymentMismatchNotice, SaleNotice
from application.ports.unit_of_work import UnitOfWork
from application.services.outbox import OutboxWriter
from domain.customer import Customer
from domain.events import DomainEvent, DuplicatePaymentReceived, PaymentMismatched, PurchaseCanceled, PurchasePaid
from domain.ids import CustomerId
from domain.outbox import (
    duplicate_payment_notice_key,
    payment_canceled_notice_key,
    payment_mismatch_notice_key,
    sale_notice_key,
)

log = logging.getLogger(__name__)


async def _customer(uow: UnitOfWork, customer_id: CustomerId) -> Customer:
    customer = await uow.customers.get(customer_id)
    if customer is None:  # a foreign key guarantees it
        raise LookupError(f"no customer {customer_id}")
    return customer


class GrantAccessOnPayment:
    """A paid buyer is owed a link to the course chat: issuing it is queued (it needs Telegram)."""

    def __init__(self, outbox: OutboxWriter) -> None:
        self._outbox = outbox

    async def __call__(self, event: PurchasePaid, uow: UnitOfWork) -> Iterable[DomainEvent]:
        await self._outbox.put(uow, self._outbox.grant_access(event.purchase_id))
        return ()


class TellAdminsOfSale:
    def __init__(self, outbox: OutboxWriter) -> None:
        self._outbox = outbox

    async def __call__(self, event: PurchasePaid, uow: UnitOfWork) -> Iterable[DomainEvent]:
        buyer = await _customer(uow, event.customer_id)
        referrer = await uow.customers.get(buyer.referrer_id) if buyer.referrer_id else None
        notice = SaleNotice(
            buyer=buyer.display_name,
            telegram_id=buyer.telegram_id.value,
            amount=event.price,
            referrer=f"{referrer.first_name} (id {referrer.telegram_id})" if referrer is not None else "—",
        )
        await self._outbox.to_admins(uow, sale_notice_key(event.purchase_id), notice)
        return ()


class AskAdminsToRefundDuplicate:
    def __init__(self, outbox: OutboxWriter) -> None:
        self._outbox = outbox

    async def __call__(self, event: DuplicatePaymentReceived, uow: UnitOfWork) -> Iterable[DomainEvent]:
        buyer = await _customer(uow, event.customer_id)
        log.error(
            "customer %s paid twice: payment %s (purchase %s) after purchase %s; refund it",
            buyer.id, event.payment_id, event.purchase_id, event.earlier_purchase_id,
        )  # fmt: skip
        notice = DuplicatePaymentNotice(
            buyer=buyer.display_name,
            telegram_id=buyer.telegram_id.value,
            payment_id=event.payment_id or "?",
            amount=event.price,
        )
        await self._outbox.to_admins(uow, duplicate_payment_notice_key(event.purchase_id), notice)
        return ()


class TellBuyerPaymentCanceled:
    def __init__(self, outbox: OutboxWriter) -> None:
        self._outbox = outbox

    async def __call__(self, event: PurchaseCanceled, uow: UnitOfWork) -> Iterable[DomainEvent]:
        buyer = await _customer(uow, event.customer_id)
        message = self._outbox.telegram_notice(
            payment_canceled_notice_key(event.purchase_id), buyer.telegram_id, buyer.language, PaymentCanceledNotice()
        )
        await self._outbox.put(uow, message)
        return ()


class AlertAdminsOfMismatch:
    def __init__(self, outbox: OutboxWriter) -> None:
        self._outbox = outbox

    async def __call__(self, event: PaymentMismatched, uow: UnitOfWork) -> Iterable[DomainEvent]:
        log.error("refused payment %s for purchase %s: %s", event.payment_id, event.purchase_id, event.reason)
        notice = PaymentMismatchNotice(
            payment_id=event.payment_id, purchase_id=str(event.purchase_id), amount=event.reported, price=event.price
        )
        await self._outbox.to_admins(uow, payment_mismatch_notice_key(event.purchase_id, event.payment_id), notice)
        return ()
