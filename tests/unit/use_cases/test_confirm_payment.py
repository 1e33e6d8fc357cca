import copy
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from application.notices import (
    DuplicatePaymentNotice,
    PaymentCanceledNotice,
    PaymentMismatchNotice,
    ReferrerCredited,
    SaleNotice,
)
from application.ports.payment_gateway import Payment, PaymentGatewayUnavailable, PaymentRequest
from application.services.payments import PaymentOutcome
from domain.customer import Language
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.ledger import EntryKind
from domain.money import Currency, Money
from domain.purchase import PaymentStatus, Purchase, PurchaseStatus
from tests.unit.harness import ADMIN, Harness, default_terms


async def _referred_checkout(h: Harness, referrer_lang: str = "ru") -> tuple[PurchaseId, str]:
    referrer = await h.start(1, name="Anna", lang=referrer_lang)
    await h.start(2, referrer.customer.referral_code.value, name="Boris")
    link = await h.buy(2)
    purchase_id = link.purchase_id  # type: ignore[union-attr]
    return purchase_id, h.payment_id_of(purchase_id)


def _snapshot(h: Harness) -> object:
    return copy.deepcopy(h.store.state)


async def test_succeeded_payment_pays_credits_and_queues_messages() -> None:
    h = Harness(terms=default_terms(price=Money(499_999)))
    purchase_id, payment_id = await _referred_checkout(h, referrer_lang="en")
    h.gateway.succeed(payment_id)
    assert await h.confirm()(payment_id) is PaymentOutcome.PAID

    purchase = h.purchase(purchase_id)
    assert (purchase.status, purchase.paid_at) == (PurchaseStatus.PAID, h.clock.now())
    [credit] = h.store.state.ledger
    assert credit.amount == Money(49_999)  # 10% of 4999.99, rounded down
    assert (credit.kind, credit.referrer_id, credit.purchase_id) == (
        EntryKind.REFERRAL_CREDIT,
        h.customer(1).id,
        purchase_id,
    )

    assert h.access_grants_queued(purchase_id) == 1
    assert h.notices_to(1) == [ReferrerCredited(amount=Money(49_999), balance=Money(49_999))]
    assert h.notices_to(ADMIN) == [
        SaleNotice(buyer="Boris @u2", telegram_id=2, amount=Money(499_999), referrer="Anna (id 1)")
    ]
    assert len(h.store.state.outbox) == 3  # nothing else

    await h.deliver_all()  # rendered in each recipient's language
    assert h.texts_to(1) == [h.render(Language.EN, "referrer.credited", amount="499.99", balance="499.99")]
    [sale] = h.texts_to(ADMIN)
    assert "Boris @u2" in sale and "4999.99" in sale and "Anna" in sale


async def test_duplicate_notification_changes_nothing() -> None:
    h = Harness()
    _, payment_id = await _referred_checkout(h)
    h.gateway.succeed(payment_id)
    await h.confirm()(payment_id)
    before = _snapshot(h)
    for _ in range(3):
        assert await h.confirm()(payment_id) is PaymentOutcome.UNCHANGED
    assert h.store.state == before
    assert len(h.store.state.ledger) == 1


async def test_balance_in_the_referrer_note_accumulates() -> None:
    h = Harness()
    referrer = await h.start(1)
    for buyer in (2, 3):
        await h.start(buyer, referrer.customer.referral_code.value)
        paid = await h.pay(buyer)
    assert h.notices_to(1) == [
        ReferrerCredited(amount=Money(49_900), balance=Money(49_900)),
        ReferrerCredited(amount=Money(49_900), balance=Money(99_800)),
    ]
    assert paid.status is PurchaseStatus.PAID


async def test_canceled_payment_cancels_and_tells_the_buyer() -> None:
    h = Harness()
    purchase_id, payment_id = await _referred_checkout(h)
    h.gateway.cancel(payment_id)
    assert await h.confirm()(payment_id) is PaymentOutcome.CANCELED
    assert h.purchase(purchase_id).status is PurchaseStatus.CANCELED
    assert h.store.state.ledger == []
    assert h.notices_to(2) == [PaymentCanceledNotice()]
    assert len(h.store.state.outbox) == 1
    await h.deliver_all()
    [told] = h.notifier.sent
    assert (told.telegram_id, told.text) == (TelegramId(2), h.render(Language.RU, "payment.canceled"))
    assert await h.confirm()(payment_id) is PaymentOutcome.UNCHANGED
    assert len(h.store.state.outbox) == 1


async def test_canceled_after_succeeded_is_ignored_and_stays_paid() -> None:
    h = Harness()
    purchase_id, payment_id = await _referred_checkout(h)
    h.gateway.succeed(payment_id)
    await h.confirm()(payment_id)
    before = _snapshot(h)
    h.gateway.payments[payment_id] = replace(h.gateway.payments[payment_id], status=PaymentStatus.CANCELED)
    assert await h.confirm()(payment_id) is PaymentOutcome.IGNORED_FINAL
    assert h.purchase(purchase_id).status is PurchaseStatus.PAID
    assert h.store.state == before


@pytest.mark.parametrize("status", [PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE])
async def test_open_statuses_change_nothing(status: PaymentStatus) -> None:
    h = Harness()
    purchase_id, payment_id = await _referred_checkout(h)
    h.gateway.set_status(payment_id, status)
    assert await h.confirm()(payment_id) is PaymentOutcome.UNCHANGED
    assert h.purchase(purchase_id).status is PurchaseStatus.PENDING
    assert h.store.state.outbox == {} and h.store.state.ledger == []


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Money(498_999)},
        {"amount": Money(499_000, Currency("USD"))},
        {"payment_id": "fake-forged"},
    ],
)
async def test_mismatch_is_refused_changes_nothing_and_tells_the_admins_once(change: dict[str, object]) -> None:
    h = Harness()
    purchase_id, payment_id = await _referred_checkout(h)
    forged = replace(h.gateway.payments[payment_id], status=PaymentStatus.SUCCEEDED, **change)  # type: ignore[arg-type]
    h.gateway.payments[forged.payment_id] = forged
    before = _snapshot(h)
    assert await h.confirm()(forged.payment_id) is PaymentOutcome.MISMATCH
    assert await h.confirm()(forged.payment_id) is PaymentOutcome.MISMATCH  # redelivered
    after = h.store.state
    assert (after.customers, after.purchases, after.ledger, after.grants) == (
        before.customers,
        before.purchases,
        before.ledger,
        before.grants,
    )
    assert h.purchase(purchase_id).status is PurchaseStatus.PENDING
    assert len(after.outbox) == len(before.outbox) + 1  # one alert, though the notification came twice
    assert h.notices_to(ADMIN) == [
        PaymentMismatchNotice(
            payment_id=forged.payment_id, purchase_id=str(purchase_id), amount=forged.amount, price=h.terms.price
        )
    ]


async def test_payment_naming_another_purchase_of_ours_is_a_mismatch() -> None:
    h = Harness()
    first, first_payment = await _referred_checkout(h)
    await h.start(3)
    second = (await h.buy(3)).purchase_id  # type: ignore[union-attr]
    # The first payment's metadata claims to pay the second purchase.
    h.gateway.payments[first_payment] = replace(
        h.gateway.payments[first_payment], status=PaymentStatus.SUCCEEDED, purchase_id=second
    )
    assert await h.confirm()(first_payment) is PaymentOutcome.MISMATCH
    assert h.purchase(first).status is PurchaseStatus.PENDING
    assert h.purchase(second).status is PurchaseStatus.PENDING


async def test_unknown_payment_is_not_ours() -> None:
    h = Harness()
    await _referred_checkout(h)
    before = _snapshot(h)
    assert await h.confirm()("no-such-payment") is PaymentOutcome.NOT_OURS
    assert h.store.state == before


@pytest.mark.parametrize("purchase_id", [None, PurchaseId(UUID(int=123_456_789))])
async def test_payment_without_a_purchase_of_ours_is_not_ours(purchase_id: PurchaseId | None) -> None:
    h = Harness()
    await _referred_checkout(h)
    h.gateway.payments["foreign"] = Payment("foreign", PaymentStatus.SUCCEEDED, h.terms.price, purchase_id)
    before = _snapshot(h)
    assert await h.confirm()("foreign") is PaymentOutcome.NOT_OURS
    assert h.store.state == before


async def test_gateway_down_propagates_and_changes_nothing() -> None:
    h = Harness()
    purchase_id, payment_id = await _referred_checkout(h)
    h.gateway.succeed(payment_id)
    h.gateway.available = False
    before = _snapshot(h)
    with pytest.raises(PaymentGatewayUnavailable):
        await h.confirm()(payment_id)
    assert h.store.state == before
    h.gateway.available = True
    assert await h.confirm()(payment_id) is PaymentOutcome.PAID  # the provider's retry then succeeds
    assert h.purchase(purchase_id).status is PurchaseStatus.PAID


async def test_no_referrer_no_credit() -> None:
    h = Harness()
    await h.start(2)
    paid = await h.pay(2)
    assert paid.status is PurchaseStatus.PAID
    assert h.store.state.ledger == []
    assert h.access_grants_queued(paid.id) == 1
    [sale] = h.notices_to(ADMIN)
    assert isinstance(sale, SaleNotice) and sale.referrer == "—"
    assert len(h.store.state.outbox) == 2


async def test_blacklisted_referrer_gets_no_credit() -> None:
    h = Harness()
    _, payment_id = await _referred_checkout(h)
    await h.ban()(TelegramId(1))
    h.gateway.succeed(payment_id)
    assert await h.confirm()(payment_id) is PaymentOutcome.PAID
    assert h.store.state.ledger == []
    assert h.notices_to(1) == []


async def test_no_admins_no_admin_note() -> None:
    h = Harness(terms=default_terms(admin_ids=()))
    await h.start(2)
    paid = await h.pay(2)
    assert h.access_grants_queued(paid.id) == 1
    assert len(h.store.state.outbox) == 1


async def test_credit_that_rounds_to_nothing_is_not_written() -> None:
    h = Harness(terms=default_terms(price=Money(9)))
    _, payment_id = await _referred_checkout(h)
    h.gateway.succeed(payment_id)
    assert await h.confirm()(payment_id) is PaymentOutcome.PAID
    assert h.store.state.ledger == []
    assert h.notices_to(1) == []


async def _second_payment_in_flight(h: Harness, telegram_id: int) -> tuple[PurchaseId, str]:
    """Another pending purchase of the customer with a payment at the provider (say, a second
    checkout that raced the first): the customer can pay it too."""
    customer = h.customer(telegram_id)
    purchase = Purchase(
        id=PurchaseId(h.ids.new_uuid()),
        customer_id=customer.id,
        price=h.terms.price,
        email=Email("buyer@example.com"),
        created_at=h.clock.now(),
    )
    payment = await h.gateway.create_payment(
        PaymentRequest(
            purchase.id, purchase.price, "course", "https://t.me/bot", purchase.email, True, str(purchase.id)
        )
    )
    purchase.attach_payment(payment.payment_id, payment.confirmation_url)
    async with h.uow() as uow:
        await uow.purchases.add(purchase)
        await uow.commit()
    return purchase.id, payment.payment_id


async def test_second_payment_of_a_customer_is_recorded_but_grants_and_credits_nothing() -> None:
    h = Harness()
    first_id, first_payment = await _referred_checkout(h)
    second_id, second_payment = await _second_payment_in_flight(h, 2)
    h.gateway.succeed(first_payment)
    assert await h.confirm()(first_payment) is PaymentOutcome.PAID
    await h.deliver_all()
    sent_before = len(h.notifier.sent)
    h.clock.advance(timedelta(minutes=3))

    h.gateway.succeed(second_payment)
    assert await h.confirm()(second_payment) is PaymentOutcome.DUPLICATE_PAYMENT

    second = h.purchase(second_id)
    assert (second.status, second.paid_at, second.payment_id) == (PurchaseStatus.PAID, h.clock.now(), second_payment)
    assert h.purchase(first_id).status is PurchaseStatus.PAID
    assert [e.purchase_id for e in h.store.state.ledger] == [first_id]  # the referrer is credited once
    assert h.access_grants_queued(second_id) == 0
    assert h.notices_to(ADMIN, DuplicatePaymentNotice) == [
        DuplicatePaymentNotice(buyer="Boris @u2", telegram_id=2, payment_id=second_payment, amount=h.terms.price)
    ]

    # Replays change nothing; delivery sends the admin alert only: no second link, email or credit note.
    before = _snapshot(h)
    assert await h.confirm()(second_payment) is PaymentOutcome.UNCHANGED
    assert h.store.state == before
    await h.deliver_all()
    assert [m.telegram_id for m in h.notifier.sent[sent_before:]] == [ADMIN]
    assert h.notifier.sent[-1].text == h.render(
        Language.RU,
        "admin.duplicate_payment",
        buyer="Boris @u2",
        telegram_id=2,
        payment_id=second_payment,
        amount="4990.00",
    )
    assert "ЮKassa" in h.notifier.sent[-1].text
    assert len(h.store.state.grants) == 1 and len(h.email.sent) == 1 and len(h.course.invites) == 1


async def test_duplicate_payment_alerts_every_admin_in_their_language() -> None:
    other_admin = TelegramId(998)
    h = Harness(terms=default_terms(admin_ids=(ADMIN, other_admin)))
    await h.start(other_admin.value, lang="en")
    await h.start(2, name="Boris")
    await h.pay(2)
    _, second_payment = await _second_payment_in_flight(h, 2)
    h.gateway.succeed(second_payment)
    assert await h.recorder().record(h.gateway.payments[second_payment]) is PaymentOutcome.DUPLICATE_PAYMENT
    assert (
        len(h.notices_to(ADMIN, DuplicatePaymentNotice)) == len(h.notices_to(other_admin, DuplicatePaymentNotice)) == 1
    )
    await h.deliver_all()
    alerts = {
        m.telegram_id.value: m.text for m in h.notifier.sent if "paid again" in m.text or "заплатил ещё раз" in m.text
    }
    assert set(alerts) == {ADMIN.value, other_admin.value}
    assert (
        "Refund it in the YooKassa dashboard" in alerts[other_admin.value]
        and second_payment in alerts[other_admin.value]
    )
    assert "ЮKassa" in alerts[ADMIN.value] and "4990.00" in alerts[ADMIN.value]


async def test_canceled_second_payment_of_a_paying_customer_is_just_canceled() -> None:
    h = Harness()
    await h.start(2)
    await h.pay(2)
    second_id, second_payment = await _second_payment_in_flight(h, 2)
    h.gateway.cancel(second_payment)
    assert await h.confirm()(second_payment) is PaymentOutcome.CANCELED
    assert h.purchase(second_id).status is PurchaseStatus.CANCELED
    assert h.notices_to(ADMIN, DuplicatePaymentNotice) == []
