"""Applying what the payment provider says about a payment to our purchase, exactly once."""

from __future__ import annotations

import enum
import logging

from application.ports.payment_gateway import Payment
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.services.outbox import OutboxWriter
from application.services.retry import retry_on_conflict
from application.terms import ShopTerms
from application.texts import customer_name, text
from domain.customer import Customer
from domain.ids import LedgerEntryId
from domain.ledger import referral_credit
from domain.purchase import PaymentMismatch, Purchase, Transition

log = logging.getLogger(__name__)


class PaymentOutcome(enum.StrEnum):
    PAID = "paid"  # the purchase became paid just now
    DUPLICATE_PAYMENT = "duplicate_payment"  # became paid, but the customer had paid already: admins refund it
    CANCELED = "canceled"  # the purchase became canceled just now
    UNCHANGED = "unchanged"  # a duplicate, or the payment is still pending
    IGNORED_FINAL = "ignored_final"  # contradicts a final state, which never changes back
    MISMATCH = "mismatch"  # amount, currency or purchase do not match: refused, the admins told
    NOT_OURS = "not_ours"  # no purchase of ours is named by the payment


class PaymentRecorder:
    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator, terms: ShopTerms, outbox: OutboxWriter) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._terms = terms
        self._outbox = outbox

    async def record(self, payment: Payment) -> PaymentOutcome:
        """In one transaction: the purchase's new state, the referrer's credit and the messages
        both cause. The purchase row is locked, so concurrent notifications queue and the later
        ones find the state already applied."""
        if payment.purchase_id is None:
            return PaymentOutcome.NOT_OURS
        return await retry_on_conflict(lambda: self._record(payment))

    async def _record(self, payment: Payment) -> PaymentOutcome:
        assert payment.purchase_id is not None
        async with self._uow as uow:
            purchase = await uow.purchases.get(payment.purchase_id, for_update=True)
            if purchase is None:
                return PaymentOutcome.NOT_OURS
            try:
                purchase.check_payment(payment.payment_id, payment.amount, payment.purchase_id)
            except PaymentMismatch as exc:
                log.error("refused payment %s: %s", payment.payment_id, exc)
                await self._outbox.admins(
                    uow,
                    f"purchase:{purchase.id}:mismatch:{payment.payment_id}",
                    self._terms.admin_ids,
                    "admin.payment_mismatch",
                    payment_id=payment.payment_id,
                    purchase_id=purchase.id,
                    amount=str(payment.amount),
                    price=str(purchase.price),
                )
                await uow.commit()
                return PaymentOutcome.MISMATCH
            if purchase.payment_id is None:
                purchase.attach_payment(payment.payment_id, payment.confirmation_url)
            transition = purchase.apply(payment.status, self._clock.now())
            customer = await uow.customers.get(purchase.customer_id)
            assert customer is not None, "a purchase always has its customer"
            outcome = PaymentOutcome(transition.value)
            if transition is Transition.PAID:
                # Payments of two purchases of one customer queue on the customer's row, so the
                # later one sees the earlier one paid.
                await uow.customers.by_telegram_id(customer.telegram_id, for_update=True)
                earlier = await uow.purchases.paid_for(customer.id)
                if earlier is not None and earlier.id != purchase.id:
                    await self._on_duplicate(uow, purchase, customer, earlier)
                    outcome = PaymentOutcome.DUPLICATE_PAYMENT
                else:
                    await self._on_paid(uow, purchase, customer)
            elif transition is Transition.CANCELED:
                await self._outbox.telegram(
                    uow,
                    f"purchase:{purchase.id}:canceled",
                    customer.telegram_id,
                    text(customer.language, "payment.canceled"),
                )
            await uow.purchases.save(purchase)
            await uow.commit()
        if transition is Transition.IGNORED_FINAL:
            log.warning(
                "payment %s says %s but purchase %s is final (%s)",
                payment.payment_id,
                payment.status,
                purchase.id,
                purchase.status,
            )
        return outcome

    async def _on_duplicate(self, uow: UnitOfWork, purchase: Purchase, buyer: Customer, earlier: Purchase) -> None:
        """The customer paid again for what they already have. The money arrived, so the purchase
        is recorded as paid, but it grants nothing and credits no one: every admin is asked to
        refund it."""
        log.error(
            "customer %s paid twice: payment %s (purchase %s) after purchase %s; refund it",
            buyer.id, purchase.payment_id, purchase.id, earlier.id,
        )  # fmt: skip
        await self._outbox.admins(
            uow,
            f"purchase:{purchase.id}:duplicate",
            self._terms.admin_ids,
            "admin.duplicate_payment",
            buyer=customer_name(buyer),
            telegram_id=buyer.telegram_id,
            payment_id=purchase.payment_id,
            amount=purchase.price.to_decimal_string(),
        )

    async def _on_paid(self, uow: UnitOfWork, purchase: Purchase, buyer: Customer) -> None:
        await self._outbox.grant_access(uow, f"purchase:{purchase.id}:access", str(purchase.id))
        referrer = await uow.customers.get(buyer.referrer_id) if buyer.referrer_id else None
        if referrer is not None and not await uow.blacklist.contains(referrer.telegram_id):
            entry = referral_credit(
                LedgerEntryId(self._ids.new_uuid()), referrer.id, purchase, self._terms.referral_rate, self._clock.now()
            )
            if entry is not None and await uow.ledger.append(entry):
                balance = await uow.ledger.balance(referrer.id, purchase.price.currency)
                await self._outbox.telegram(
                    uow,
                    f"purchase:{purchase.id}:referrer",
                    referrer.telegram_id,
                    text(
                        referrer.language,
                        "referrer.credited",
                        amount=entry.amount.to_decimal_string(),
                        balance=balance.to_decimal_string(),
                    ),
                )
        referrer_name = "—"
        if referrer is not None:
            referrer_name = f"{referrer.first_name} (id {referrer.telegram_id})"
        await self._outbox.admins(
            uow,
            f"purchase:{purchase.id}",
            self._terms.admin_ids,
            "admin.sale",
            buyer=customer_name(buyer),
            telegram_id=buyer.telegram_id,
            amount=purchase.price.to_decimal_string(),
            referrer=referrer_name,
        )
