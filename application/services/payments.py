"""Applying what the payment provider says about a payment to our purchase, exactly once."""

from __future__ import annotations

import enum
import logging

from application.bus import MessageBus
from application.ports.payment_gateway import Payment
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork
from application.services.retry import retry_on_conflict
from domain.purchase import PaymentStatus, Transition

log = logging.getLogger(__name__)

_CHANGES = (Transition.PAID, Transition.DUPLICATE_PAYMENT, Transition.CANCELED)


class PaymentOutcome(enum.StrEnum):
    PAID = "paid"  # the purchase became paid just now
    DUPLICATE_PAYMENT = "duplicate_payment"  # became paid, but the customer had paid already: admins refund it
    CANCELED = "canceled"  # the purchase became canceled just now
    UNCHANGED = "unchanged"  # a duplicate, or the payment is still pending
    IGNORED_FINAL = "ignored_final"  # contradicts a final state, which never changes back
    MISMATCH = "mismatch"  # amount, currency or purchase do not match: refused, the admins told
    NOT_OURS = "not_ours"  # no purchase of ours is named by the payment

    @property
    def queued_messages(self) -> bool:
        """Whether recording it may have queued outbox messages (the worker can be woken)."""
        return self not in (PaymentOutcome.UNCHANGED, PaymentOutcome.IGNORED_FINAL, PaymentOutcome.NOT_OURS)


class PaymentRecorder:
    """Applies the provider's answer about a payment to its purchase and hands the events this
    records (paid, paid twice, canceled, mismatched) to the message bus, all in one transaction.
    What each event causes is listed in ``application.handlers``."""

    def __init__(self, uow: UnitOfWork, clock: Clock, bus: MessageBus) -> None:
        self._uow = uow
        self._clock = clock
        self._bus = bus

    async def record(self, payment: Payment) -> PaymentOutcome:
        """The purchase row is locked, so concurrent notifications queue and the later ones find
        the state already applied; payments of two purchases of one customer queue on the
        customer's row, so the later one sees the earlier one paid."""
        if payment.purchase_id is None:
            return PaymentOutcome.NOT_OURS
        return await retry_on_conflict(lambda: self._record(payment))

    async def _record(self, payment: Payment) -> PaymentOutcome:
        assert payment.purchase_id is not None
        async with self._uow as uow:
            purchase = await uow.purchases.get(payment.purchase_id, for_update=True)
            if purchase is None:
                return PaymentOutcome.NOT_OURS
            earlier_paid = None
            if payment.status is PaymentStatus.SUCCEEDED and purchase.is_open:
                await uow.customers.lock(purchase.customer_id)
                earlier = await uow.purchases.paid_for(purchase.customer_id)
                earlier_paid = earlier.id if earlier is not None else None
            attaching = purchase.payment_id is None
            if attaching and payment.confirmation_url:
                purchase.confirmation_url = payment.confirmation_url
            transition = purchase.payment_reported(
                payment.payment_id,
                payment.status,
                payment.amount,
                payment.purchase_id,
                self._clock.now(),
                earlier_paid=earlier_paid,
            )
            if transition in _CHANGES or (attaching and transition is not Transition.MISMATCH):
                await uow.purchases.save(purchase)
            await self._bus.commit(uow, purchase)
        if transition is Transition.IGNORED_FINAL:
            log.warning(
                "payment %s says %s but purchase %s is final (%s)",
                payment.payment_id, payment.status, purchase.id, purchase.status,
            )  # fmt: skip
        return PaymentOutcome(transition.value)
