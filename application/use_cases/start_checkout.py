from __future__ import annotations

import logging
from dataclasses import dataclass

from application.bus import MessageBus
from application.errors import CustomerBlacklisted, CustomerNotRegistered
from application.ports.messaging import CourseAccess, DeliveryError
from application.ports.payment_gateway import (
    PaymentGateway,
    PaymentGatewayRejected,
    PaymentGatewayUnavailable,
    PaymentNotFound,
    PaymentRequest,
)
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.services.access import AccessIssuer
from application.services.gatekeeper import Gatekeeper
from application.services.payments import PaymentOutcome, PaymentRecorder
from application.terms import ShopTerms
from domain.customer import Customer
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.purchase import PaymentStatus, Purchase

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckoutCommand:
    telegram_id: TelegramId
    email: Email | None  # None: ask first; a paying customer is then asked for it
    return_url: str


@dataclass(frozen=True, slots=True)
class PaymentLink:
    """Pay here. ``reused``: the customer's open payment, not a new one."""

    purchase_id: PurchaseId
    confirmation_url: str
    reused: bool
    email: str  # where the receipt and the link go (an open payment keeps its first email)


@dataclass(frozen=True, slots=True)
class AlreadyInCourse:
    pass


@dataclass(frozen=True, slots=True)
class AccessReissued:
    invite_link: str


@dataclass(frozen=True, slots=True)
class PaymentJustConfirmed:
    """Checking the open payment found it paid; access is on its way through the outbox."""


@dataclass(frozen=True, slots=True)
class EmailNeeded:
    """A new payment is due and needs the buyer's email (for the receipt and the link)."""


@dataclass(frozen=True, slots=True)
class AccessReissueFailed:
    """The customer has paid, but Telegram could not make their new link right now: nothing was
    changed, and asking again later gives one."""


@dataclass(frozen=True, slots=True)
class PaymentOnHold:
    """The customer's payment did not match its purchase and waits for the admins (who were
    told): no new payment is opened beside it."""


@dataclass(frozen=True, slots=True)
class PaymentServiceUnavailable:
    """The payment provider could not be reached or refused the request: nothing was charged;
    trying again later may succeed."""

    detail: str


CheckoutResult = (
    PaymentLink
    | AlreadyInCourse
    | AccessReissued
    | AccessReissueFailed
    | PaymentJustConfirmed
    | EmailNeeded
    | PaymentOnHold
    | PaymentServiceUnavailable
)

_OPEN_STATUSES = (PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE)
# Found paid: never a new purchase after these (a duplicate payment's customer has paid before).
_CONFIRMED = (PaymentOutcome.PAID, PaymentOutcome.UNCHANGED, PaymentOutcome.DUPLICATE_PAYMENT)


class _OpenPaymentUnusable(Exception):
    """The open payment came back without a link to pay it: never open a second one beside it."""


class StartCheckout:
    """/buy: a payment link for the course, never a second charge. Every outcome, including the
    provider being down, is a result of its own (``CheckoutResult``); only a person the access
    policy shuts out (``CustomerBlacklisted``) or who never started the bot
    (``CustomerNotRegistered``) is refused with an error.

    - Already paid: a member of the course chat is told so; anyone else gets a new one-time link
      and the previous links are revoked.
    - An open payment: its state is asked of the provider. Still open: the same link again.
      Meanwhile paid or canceled: recorded (as a webhook would), then paid → access, canceled → a
      new payment. Unknown to the provider: the purchase is closed and a new one started.
    - Otherwise, once the email is known (``EmailNeeded`` asks for it), a new purchase is stored first, and the payment is created with the purchase id
      as the idempotency key, so a retried call (ours or the SDK's) cannot charge twice.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        gateway: PaymentGateway,
        course: CourseAccess,
        access: AccessIssuer,
        payments: PaymentRecorder,
        clock: Clock,
        ids: IdGenerator,
        terms: ShopTerms,
        gatekeeper: Gatekeeper,
        bus: MessageBus,
    ) -> None:
        self._uow = uow
        self._gateway = gateway
        self._course = course
        self._access = access
        self._payments = payments
        self._clock = clock
        self._ids = ids
        self._terms = terms
        self._gatekeeper = gatekeeper
        self._bus = bus

    async def __call__(self, command: CheckoutCommand) -> CheckoutResult:
        try:
            return await self._checkout(command)
        except (PaymentGatewayUnavailable, PaymentGatewayRejected, _OpenPaymentUnusable) as exc:
            log.warning("checkout of %s: the payment provider failed: %s", command.telegram_id, exc)
            return PaymentServiceUnavailable(str(exc))

    async def _checkout(self, command: CheckoutCommand) -> CheckoutResult:
        async with self._uow as uow:
            standing = await self._gatekeeper.standing_in(uow, command.telegram_id)
            if not self._gatekeeper.policy.may_buy(standing):
                raise CustomerBlacklisted(str(command.telegram_id))
            customer = await uow.customers.by_telegram_id(command.telegram_id)
            if customer is None:
                raise CustomerNotRegistered(str(command.telegram_id))
            paid = await uow.purchases.paid_for(customer.id)
            open_purchase = await uow.purchases.open_for(customer.id)
        if paid is not None:
            return await self._already_paid(customer, paid)
        if open_purchase is not None and open_purchase.payment_id is not None:
            resumed = await self._resume(open_purchase)
            if resumed is not None:
                return resumed
            open_purchase = None  # canceled, unknown to the provider or unusable: a new purchase
        if open_purchase is None and command.email is None:
            return EmailNeeded()
        purchase = open_purchase or await self._new_purchase(customer, command.email)
        return await self._create_payment(purchase, command.return_url)

    async def _resume(self, purchase: Purchase) -> CheckoutResult | None:
        """Asks the provider about the open purchase's payment: still open → its link; found paid →
        recorded and confirmed; otherwise (canceled, unknown, unusable) ``None``: a new purchase is due."""
        assert purchase.payment_id is not None
        try:
            payment = await self._gateway.fetch_payment(purchase.payment_id)
        except PaymentNotFound:
            log.warning(
                "payment %s of purchase %s is unknown to the provider: closing the purchase",
                purchase.payment_id,
                purchase.id,
            )
            await self._abandon(purchase)
            return None
        if payment.status in _OPEN_STATUSES:
            url = payment.confirmation_url or purchase.confirmation_url
            if not url:  # never a second payment while this one may still be paid
                raise _OpenPaymentUnusable(f"open payment {payment.payment_id} came without a confirmation url")
            return PaymentLink(purchase.id, url, reused=True, email=purchase.email.value)
        outcome = await self._payments.record(payment)
        if outcome is PaymentOutcome.MISMATCH:  # never a second payment beside a disputed one
            return PaymentOnHold()
        if outcome in _CONFIRMED and payment.status is PaymentStatus.SUCCEEDED:
            return PaymentJustConfirmed()
        return None

    async def _already_paid(self, customer: Customer, paid: Purchase) -> CheckoutResult:
        try:
            if await self._course.is_member(customer.telegram_id):
                return AlreadyInCourse()
            grant = await self._access.replace(paid)
        except DeliveryError as exc:
            log.warning("could not reissue the course link of customer %s: %s", customer.telegram_id, exc)
            return AccessReissueFailed()
        return AccessReissued(grant.invite_link)

    async def _new_purchase(self, customer: Customer, email: Email | None) -> Purchase:
        """A new pending purchase, unless a concurrent /buy of the same customer made one first
        (the customer row is locked while we look), so two taps cannot become two payments."""
        assert email is not None
        async with self._uow as uow:
            await uow.customers.by_telegram_id(customer.telegram_id, for_update=True)
            existing = await uow.purchases.open_for(customer.id)
            if existing is not None:
                return existing
            purchase = Purchase(
                id=PurchaseId(self._ids.new_uuid()),
                customer_id=customer.id,
                price=self._terms.price,
                email=email,
                created_at=self._clock.now(),
            )
            await uow.purchases.add(purchase)
            await uow.commit()
        return purchase

    async def _create_payment(self, purchase: Purchase, return_url: str) -> PaymentLink:
        try:
            payment = await self._gateway.create_payment(
                PaymentRequest(
                    purchase_id=purchase.id,
                    amount=purchase.price,
                    description=self._terms.course_title,
                    return_url=return_url,
                    customer_email=purchase.email,
                    receipt=self._terms.receipts,
                    idempotency_key=str(purchase.id),
                )
            )
        except PaymentGatewayRejected:
            await self._abandon(purchase)
            raise
        async with self._uow as uow:
            stored = await uow.purchases.get(purchase.id, for_update=True)
            assert stored is not None
            if stored.payment_id is None:
                stored.attach_payment(payment.payment_id, payment.confirmation_url)
                await uow.purchases.save(stored)
                await uow.commit()
        if not payment.confirmation_url:
            raise _OpenPaymentUnusable(f"payment {payment.payment_id} came without a confirmation url")
        return PaymentLink(purchase.id, payment.confirmation_url, reused=False, email=purchase.email.value)

    async def _abandon(self, purchase: Purchase) -> None:
        """The provider refused to make its payment (and would refuse it again under the same key),
        or does not know the payment it made: the purchase is closed, so the next /buy starts a
        new one instead of repeating the failure. Only if still open and still on the same payment
        (none, or the unknown one)."""
        async with self._uow as uow:
            stored = await uow.purchases.get(purchase.id, for_update=True)
            if stored is not None and stored.is_open and stored.payment_id == purchase.payment_id:
                stored.abandon(self._clock.now())
                await uow.purchases.save(stored)
                await self._bus.commit(uow, stored)
