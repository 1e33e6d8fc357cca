"""Fifty copies of one payment notification at once (YooKassa re-sends, proxies retry): the
purchase is paid once, the referrer credited once, the buyer gets one link, one message and one
email, also with several outbox workers."""

from __future__ import annotations

import asyncio
from collections import Counter

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tables import customers, ledger_entries, outbox, purchases
from application.ports.payment_gateway import PaymentRequest
from application.services.payments import PaymentOutcome
from application.use_cases.register_customer import RegisterCommand
from application.use_cases.start_checkout import CheckoutCommand, PaymentLink
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.money import Money
from domain.outbox import OutboxKind
from domain.purchase import Purchase, PurchaseStatus
from tests.integration.sql.wiring import ADMIN, sql_harness

REFERRER, BUYER = TelegramId(1001), TelegramId(1002)


async def _count(engine: AsyncEngine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    async with engine.connect() as connection:
        statement = sa.select(sa.func.count()).select_from(table).where(*where)
        return int((await connection.execute(statement)).scalar_one())


async def test_fifty_concurrent_notifications_pay_credit_and_deliver_once(engine: AsyncEngine) -> None:
    app = sql_harness(engine)
    anna = await app.register()(RegisterCommand(REFERRER, "anna", "Anna", "ru"))
    boris = await app.register()(RegisterCommand(BUYER, "boris", "Boris", "en", anna.customer.referral_code.value))
    assert boris.attributed
    link = await app.checkout()(CheckoutCommand(BUYER, Email("boris@example.com"), "https://t.me/aimpay_bot"))
    assert isinstance(link, PaymentLink)
    (payment_id,) = app.gateway.payments
    app.gateway.succeed(payment_id)

    outcomes = await asyncio.gather(*(app.confirm()(payment_id) for _ in range(50)))

    assert Counter(outcomes) == {PaymentOutcome.PAID: 1, PaymentOutcome.UNCHANGED: 49}
    async with app.uow() as uow:
        purchase = await uow.purchases.get(link.purchase_id)
        assert purchase is not None and purchase.status is PurchaseStatus.PAID and purchase.paid_at is not None
        assert purchase.payment_id == payment_id
        entries = list(await uow.ledger.entries_for(anna.customer.id))
        assert [(e.amount, e.purchase_id) for e in entries] == [(Money(49_900), purchase.id)]
        assert await uow.ledger.balance(anna.customer.id, Money(0).currency) == Money(49_900)
    assert await _count(engine, purchases, purchases.c.status == PurchaseStatus.PAID.value) == 1
    assert await _count(engine, ledger_entries) == 1
    assert await _count(engine, outbox, outbox.c.kind == OutboxKind.GRANT_ACCESS.value) == 1

    # Three outbox workers at once, until none of them finds anything to do.
    rounds = 0
    while sum(r.delivered for r in await asyncio.gather(*(app.deliver()() for _ in range(3)))) > 0:
        rounds += 1
        assert rounds < 10, "the outbox never ran dry"

    assert await _count(engine, outbox, outbox.c.delivered_at.is_(None)) == 0
    assert len(app.course.invites) == 1
    (invite,) = app.course.invites
    to_buyer = app.notifier.to(BUYER)
    assert len(to_buyer) == 1 and invite in to_buyer[0].text
    assert [b.url for b in to_buyer[0].buttons] == [invite]
    assert app.email.calls == 1
    (sent,) = app.email.sent.values()
    assert sent.to == Email("boris@example.com") and invite in sent.text
    assert len(app.notifier.to(REFERRER)) == 1  # "you earned 499.00"
    summary = await app.summary()(REFERRER)  # through the SQL reader
    assert (summary.invited, summary.paid, summary.balance) == (1, 1, Money(49_900))
    assert "499.00" in app.notifier.to(REFERRER)[0].text
    assert len(app.notifier.to(ADMIN)) == 1
    assert len(app.notifier.sent) == 3


async def test_concurrent_starts_of_one_user_register_them_once(engine: AsyncEngine) -> None:
    """Ten /start updates of one new user at once: one customer; the losers of the insert race
    retry (``ConcurrencyConflict``) and find the winner's row."""
    app = sql_harness(engine)
    results = await asyncio.gather(
        *(app.register()(RegisterCommand(BUYER, f"boris{i}", "Boris", "en")) for i in range(10))
    )
    assert sum(r.is_new for r in results) == 1
    assert len({r.customer.id for r in results}) == 1
    assert await _count(engine, customers) == 1


async def test_two_payments_of_one_customer_at_once_grant_and_credit_once(engine: AsyncEngine) -> None:
    """A customer paid two purchases (two checkouts that raced) and both notifications arrive at
    once, many times: both purchases are paid, one grants access and credits the referrer, the
    other is reported as a duplicate to refund. The customer's row orders the two."""
    app = sql_harness(engine)
    anna = await app.register()(RegisterCommand(REFERRER, "anna", "Anna", "ru"))
    boris = await app.register()(RegisterCommand(BUYER, "boris", "Boris", "en", anna.customer.referral_code.value))
    link = await app.checkout()(CheckoutCommand(BUYER, Email("boris@example.com"), "https://t.me/aimpay_bot"))
    assert isinstance(link, PaymentLink)
    second = Purchase(
        PurchaseId(app.ids.new_uuid()), boris.customer.id, app.terms.price, Email("boris@example.com"), app.clock.now()
    )
    made = await app.gateway.create_payment(
        PaymentRequest(second.id, second.price, "course", "https://t.me/bot", second.email, True, str(second.id))
    )
    second.attach_payment(made.payment_id, made.confirmation_url)
    async with app.uow() as uow:
        await uow.purchases.add(second)
        await uow.commit()
    payment_ids = list(app.gateway.payments)
    for payment_id in payment_ids:
        app.gateway.succeed(payment_id)

    outcomes = await asyncio.gather(*(app.confirm()(payment_ids[i % 2]) for i in range(20)))

    counts = Counter(outcomes)
    assert counts == {PaymentOutcome.PAID: 1, PaymentOutcome.DUPLICATE_PAYMENT: 1, PaymentOutcome.UNCHANGED: 18}
    assert await _count(engine, purchases, purchases.c.status == PurchaseStatus.PAID.value) == 2
    assert await _count(engine, ledger_entries) == 1
    assert await _count(engine, outbox, outbox.c.kind == OutboxKind.GRANT_ACCESS.value) == 1
    assert await _count(engine, outbox, outbox.c.key.like("%:duplicate:admin:%")) == 1
