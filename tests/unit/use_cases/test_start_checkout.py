import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.fakes.gateways import FakePaymentGateway
from application.errors import CustomerBlacklisted, CustomerNotRegistered
from application.notices import DuplicatePaymentNotice, PaymentMismatchNotice
from application.ports.payment_gateway import Payment, PaymentGatewayRejected, PaymentRequest
from application.use_cases.start_checkout import (
    AccessReissued,
    AccessReissueFailed,
    AlreadyInCourse,
    CheckoutCommand,
    EmailNeeded,
    PaymentJustConfirmed,
    PaymentLink,
    PaymentOnHold,
    PaymentServiceUnavailable,
)
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.money import Money
from domain.outbox import OutboxKind
from domain.purchase import PaymentStatus, Purchase, PurchaseStatus
from tests.unit.harness import ADMIN, Harness, default_terms


async def test_new_payment_carries_the_purchase_id_as_idempotency_key_and_the_course_terms() -> None:
    h = Harness(terms=default_terms(receipts=True))
    await h.start(1)
    link = await h.buy(1, "Buyer@Example.com")
    assert isinstance(link, PaymentLink) and not link.reused
    [purchase] = h.purchases_of(1)
    assert purchase.id == link.purchase_id
    [(payment_id, request)] = h.gateway.requests.items()
    assert request.idempotency_key == str(purchase.id)
    assert request.purchase_id == purchase.id
    assert request.amount == h.terms.price
    assert request.description == h.terms.course_title
    assert request.receipt is True
    assert request.customer_email == Email("Buyer@example.com")
    assert request.return_url == "https://t.me/aimpay_bot"
    assert (purchase.status, purchase.payment_id, purchase.price, purchase.email) == (
        PurchaseStatus.PENDING,
        payment_id,
        h.terms.price,
        Email("Buyer@example.com"),
    )
    assert link.confirmation_url == h.gateway.payments[payment_id].confirmation_url == purchase.confirmation_url


async def test_receipt_flag_follows_the_terms() -> None:
    h = Harness(terms=default_terms(receipts=False))
    await h.start(1)
    await h.buy(1)
    [request] = h.gateway.requests.values()
    assert request.receipt is False


@pytest.mark.parametrize("status", [PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE])
async def test_open_payment_gives_the_same_link_and_creates_nothing(status: PaymentStatus) -> None:
    h = Harness()
    await h.start(1)
    first = await h.buy(1)
    assert isinstance(first, PaymentLink)
    h.gateway.set_status(h.payment_id_of(first.purchase_id), status)
    second = await h.buy(1, "other@example.com")
    assert second == PaymentLink(first.purchase_id, first.confirmation_url, reused=True, email="buyer@example.com")
    assert h.gateway.create_calls == 1 and len(h.gateway.payments) == 1
    assert len(h.purchases_of(1)) == 1


async def test_open_payment_found_succeeded_is_confirmed_and_access_is_queued() -> None:
    h = Harness()
    await h.start(1)
    link = await h.buy(1)
    assert isinstance(link, PaymentLink)
    h.gateway.succeed(h.payment_id_of(link.purchase_id))  # the webhook has not come (yet)
    result = await h.buy(1)
    assert isinstance(result, PaymentJustConfirmed)
    assert h.purchase(link.purchase_id).status is PurchaseStatus.PAID
    [grant] = h.outbox_messages(OutboxKind.GRANT_ACCESS)
    assert grant.payload == {"purchase_id": str(link.purchase_id)}
    assert h.gateway.create_calls == 1


async def test_open_payment_found_canceled_starts_a_new_purchase_and_payment() -> None:
    h = Harness()
    await h.start(1)
    first = await h.buy(1)
    assert isinstance(first, PaymentLink)
    h.gateway.cancel(h.payment_id_of(first.purchase_id))
    second = await h.buy(1)
    assert isinstance(second, PaymentLink) and not second.reused
    assert second.purchase_id != first.purchase_id
    assert h.purchase(first.purchase_id).status is PurchaseStatus.CANCELED
    assert h.purchase(second.purchase_id).status is PurchaseStatus.PENDING
    assert len(h.gateway.payments) == 2
    assert h.gateway.requests[h.payment_id_of(second.purchase_id)].idempotency_key == str(second.purchase_id)
    assert second.confirmation_url != first.confirmation_url


async def test_provider_down_leaves_a_pending_purchase_and_a_retry_makes_exactly_one_payment() -> None:
    h = Harness()
    await h.start(1)
    h.gateway.available = False
    assert isinstance(await h.buy(1), PaymentServiceUnavailable)
    [pending] = h.purchases_of(1)
    assert (pending.status, pending.payment_id) == (PurchaseStatus.PENDING, None)
    assert h.gateway.payments == {}
    assert isinstance(await h.buy(1), PaymentServiceUnavailable)
    assert len(h.purchases_of(1)) == 1

    h.gateway.available = True
    link = await h.buy(1)
    assert isinstance(link, PaymentLink) and link.purchase_id == pending.id
    [request] = h.gateway.requests.values()
    assert request.idempotency_key == str(pending.id)
    assert len(h.gateway.payments) == 1
    assert h.purchase(pending.id).payment_id == h.payment_id_of(pending.id)
    assert await h.buy(1) == replace(link, reused=True)
    assert len(h.gateway.payments) == 1


async def test_provider_down_while_checking_an_open_payment_changes_nothing() -> None:
    h = Harness()
    await h.start(1)
    link = await h.buy(1)
    assert isinstance(link, PaymentLink)
    h.gateway.available = False
    assert isinstance(await h.buy(1), PaymentServiceUnavailable)
    assert len(h.purchases_of(1)) == 1 and h.purchase(link.purchase_id).status is PurchaseStatus.PENDING


async def test_already_paid_and_in_the_chat() -> None:
    h = Harness()
    await h.start(1)
    await h.pay(1)
    await h.deliver_all()
    [invite] = h.course.invites
    assert h.course.join(TelegramId(1), invite, h.clock.now())
    assert isinstance(await h.buy(1), AlreadyInCourse)
    assert len(h.gateway.payments) == 1 and len(h.course.invites) == 1
    assert not h.course.invites[invite].revoked


async def test_already_paid_and_not_in_the_chat_gets_a_new_link_and_the_old_ones_are_revoked() -> None:
    h = Harness()
    await h.start(1)
    paid = await h.pay(1)
    await h.deliver_all()
    [first] = h.course.invites
    second = await h.buy(1)
    assert isinstance(second, AccessReissued)
    third = await h.buy(1)
    assert isinstance(third, AccessReissued)
    assert len({first, second.invite_link, third.invite_link}) == 3
    assert h.course.live_links == [third.invite_link]
    assert h.course.invites[first].revoked and h.course.invites[second.invite_link].revoked
    grants = [g for g in h.store.state.grants.values() if g.purchase_id == paid.id]
    assert len(grants) == 3
    assert [g.invite_link for g in grants if not g.is_revoked] == [third.invite_link]
    assert len(h.gateway.payments) == 1
    assert not h.course.join(TelegramId(1), first, h.clock.now())
    assert h.course.join(TelegramId(1), third.invite_link, h.clock.now())


async def test_unregistered_user() -> None:
    h = Harness()
    with pytest.raises(CustomerNotRegistered):
        await h.buy(1)
    assert h.gateway.payments == {} and h.store.state.purchases == {}


async def test_blacklisted_user() -> None:
    h = Harness()
    await h.start(1)
    await h.ban()(TelegramId(1))
    with pytest.raises(CustomerBlacklisted):
        await h.buy(1)
    assert h.gateway.payments == {} and h.store.state.purchases == {}


class RejectingGateway(FakePaymentGateway):
    """Refuses to create payments while ``rejecting`` (a 4xx from the provider)."""

    rejecting = True

    async def create_payment(self, request: PaymentRequest) -> Payment:
        if self.rejecting:
            raise PaymentGatewayRejected("invalid_request: receipt.customer.email")
        return await super().create_payment(request)


async def test_rejected_payment_closes_the_purchase_so_the_next_buy_starts_afresh() -> None:
    gateway = RejectingGateway()
    h = Harness(gateway=gateway)
    await h.start(1)
    assert isinstance(await h.buy(1, "first@example.com"), PaymentServiceUnavailable)
    [refused] = h.purchases_of(1)
    assert (refused.status, refused.payment_id) == (PurchaseStatus.CANCELED, None)

    gateway.rejecting = False
    link = await h.buy(1, "second@example.com")
    assert isinstance(link, PaymentLink) and link.purchase_id != refused.id
    [request] = gateway.requests.values()
    assert request.idempotency_key == str(link.purchase_id)
    assert request.customer_email == Email("second@example.com")
    assert h.purchase(link.purchase_id).status is PurchaseStatus.PENDING


async def test_open_payment_without_a_url_from_the_provider_is_never_paid_twice() -> None:
    h = Harness()
    await h.start(1)
    first = await h.buy(1)
    assert isinstance(first, PaymentLink)
    payment_id = h.payment_id_of(first.purchase_id)
    h.gateway.payments[payment_id] = replace(h.gateway.payments[payment_id], confirmation_url=None)
    assert await h.buy(1) == replace(first, reused=True)  # the link we stored
    stored = h.purchase(first.purchase_id)
    h.store.state.purchases[first.purchase_id] = replace(stored, confirmation_url=None)
    assert isinstance(await h.buy(1), PaymentServiceUnavailable)
    assert len(h.gateway.payments) == 1 and len(h.purchases_of(1)) == 1
    assert h.purchase(first.purchase_id).status is PurchaseStatus.PENDING


async def _buy_without_email(h: Harness, telegram_id: int):  # type: ignore[no-untyped-def]
    return await h.checkout()(CheckoutCommand(TelegramId(telegram_id), None, "https://t.me/aimpay_bot"))


async def test_email_is_asked_for_only_when_a_new_payment_is_due() -> None:
    h = Harness()
    await h.start(1)
    assert isinstance(await _buy_without_email(h, 1), EmailNeeded)
    assert h.store.state.purchases == {} and h.gateway.payments == {}
    first = await h.buy(1, "first@example.com")
    assert isinstance(first, PaymentLink) and first.email == "first@example.com"
    assert await _buy_without_email(h, 1) == replace(first, reused=True)
    h.gateway.cancel(h.payment_id_of(first.purchase_id))
    assert isinstance(
        await _buy_without_email(h, 1), EmailNeeded
    )  # the canceled one is recorded, a new one needs the email
    assert h.purchase(first.purchase_id).status is PurchaseStatus.CANCELED
    assert len(h.gateway.payments) == 1


async def test_a_pending_purchase_left_by_an_outage_is_resumed_without_asking_again() -> None:
    h = Harness()
    await h.start(1)
    h.gateway.available = False
    assert isinstance(await h.buy(1, "first@example.com"), PaymentServiceUnavailable)
    h.gateway.available = True
    link = await _buy_without_email(h, 1)
    assert isinstance(link, PaymentLink) and link.email == "first@example.com"
    assert len(h.purchases_of(1)) == 1 and len(h.gateway.payments) == 1


async def test_two_concurrent_buys_make_one_purchase_and_one_payment() -> None:
    h = Harness()
    await h.start(1)
    first, second = await asyncio.gather(h.buy(1), h.buy(1))
    assert isinstance(first, PaymentLink) and isinstance(second, PaymentLink)
    assert first.purchase_id == second.purchase_id
    assert len(h.purchases_of(1)) == 1 and len(h.gateway.payments) == 1


async def test_open_payment_unknown_to_the_provider_is_closed_and_a_new_one_asks_for_the_email() -> None:
    h = Harness()
    await h.start(1)
    first = await h.buy(1, "first@example.com")
    assert isinstance(first, PaymentLink)
    del h.gateway.payments[h.payment_id_of(first.purchase_id)]  # the provider says 404

    assert isinstance(await _buy_without_email(h, 1), EmailNeeded)
    closed = h.purchase(first.purchase_id)
    assert (closed.status, closed.canceled_at) == (PurchaseStatus.CANCELED, h.clock.now())
    assert h.gateway.create_calls == 1

    second = await h.buy(1, "second@example.com")
    assert isinstance(second, PaymentLink) and not second.reused
    assert second.purchase_id != first.purchase_id and second.email == "second@example.com"
    assert h.purchase(second.purchase_id).status is PurchaseStatus.PENDING
    assert h.gateway.requests[h.payment_id_of(second.purchase_id)].idempotency_key == str(second.purchase_id)
    assert h.outbox_messages() == []  # closing it tells no one: it was never paid nor canceled by the provider


async def test_open_payment_unknown_to_the_provider_with_the_email_given_pays_anew_at_once() -> None:
    h = Harness()
    await h.start(1)
    first = await h.buy(1)
    assert isinstance(first, PaymentLink)
    del h.gateway.payments[h.payment_id_of(first.purchase_id)]
    second = await h.buy(1, "again@example.com")
    assert isinstance(second, PaymentLink) and not second.reused and second.purchase_id != first.purchase_id
    assert [p.status for p in h.purchases_of(1)] == [PurchaseStatus.CANCELED, PurchaseStatus.PENDING]
    assert await h.buy(1) == replace(second, reused=True)  # the new one is the open one now


class RacingGateway(FakePaymentGateway):
    """While /buy asks about one payment, a webhook records another (``before_fetch``)."""

    before_fetch: Callable[[], Awaitable[object]] | None = None

    async def fetch_payment(self, payment_id: str) -> Payment:
        if self.before_fetch is not None:
            hook, self.before_fetch = self.before_fetch, None
            await hook()
        return await super().fetch_payment(payment_id)


async def test_open_payment_found_paid_as_a_duplicate_is_confirmed_and_never_starts_a_third() -> None:
    gateway = RacingGateway()
    h = Harness(gateway=gateway)
    await h.start(1)
    first = await h.buy(1)
    assert isinstance(first, PaymentLink)
    first_payment = h.payment_id_of(first.purchase_id)
    # A second payment in flight, newer than the first (two checkouts that raced).
    h.clock.advance(timedelta(minutes=1))
    second = Purchase(
        PurchaseId(h.ids.new_uuid()), h.customer(1).id, h.terms.price, Email("b@example.com"), h.clock.now()
    )
    payment = await gateway.create_payment(
        PaymentRequest(second.id, second.price, "course", "https://t.me/bot", second.email, True, str(second.id))
    )
    second.attach_payment(payment.payment_id, payment.confirmation_url)
    async with h.uow() as uow:
        await uow.purchases.add(second)
        await uow.commit()
    gateway.succeed(first_payment)
    gateway.succeed(payment.payment_id)
    gateway.before_fetch = lambda: h.confirm()(first_payment)  # the first one's webhook wins the race

    assert isinstance(await h.buy(1), PaymentJustConfirmed)
    assert h.purchase(first.purchase_id).status is PurchaseStatus.PAID
    assert h.purchase(second.id).status is PurchaseStatus.PAID
    assert len(h.purchases_of(1)) == 2 and gateway.create_calls == 2  # no third purchase, no third payment
    assert h.access_grants_queued(first.purchase_id) == 1 and h.access_grants_queued(second.id) == 0
    assert len(h.notices_to(ADMIN, DuplicatePaymentNotice)) == 1


async def test_a_disputed_open_payment_blocks_a_second_one() -> None:
    """The provider reports the open payment paid for another amount: no access, no second
    payment beside it; the admins are told (by ConfirmPayment's recorder) and sort it out."""
    h = Harness()
    await h.start(1)
    first = await h.buy(1)
    assert isinstance(first, PaymentLink)
    payment_id = h.payment_id_of(first.purchase_id)
    h.gateway.payments[payment_id] = replace(
        h.gateway.payments[payment_id], status=PaymentStatus.SUCCEEDED, amount=Money(100)
    )
    assert isinstance(await h.buy(1, "other@example.com"), PaymentOnHold)
    assert isinstance(await h.buy(1, "other@example.com"), PaymentOnHold)  # and again, one alert only
    assert len(h.gateway.payments) == 1 and h.gateway.create_calls == 1
    assert h.purchase(first.purchase_id).status is PurchaseStatus.PENDING
    assert len(h.notices_to(ADMIN, PaymentMismatchNotice)) == 1


async def test_a_paid_buyer_whose_new_link_cannot_be_made_is_told_so_and_nothing_changes() -> None:
    h = Harness()
    await h.start(1)
    await h.pay(1)
    await h.deliver_all()
    grants = dict(h.store.state.grants)
    h.course.available = False  # Telegram cannot say whether they are in the chat, nor make a link
    assert isinstance(await h.buy(1), AccessReissueFailed)
    assert h.store.state.grants == grants and len(h.gateway.payments) == 1
    h.course.available = True
    assert isinstance(await h.buy(1), AccessReissued)  # asking again later works


async def test_a_payment_created_whose_answer_was_lost_is_found_again_by_its_key() -> None:
    """The provider made the payment but its answer never came back: the retry under the same
    idempotency key gets the same payment, never a second one."""
    h = Harness()
    await h.start(1)
    h.gateway.lose_answers = 1
    assert isinstance(await h.buy(1), PaymentServiceUnavailable)
    assert len(h.gateway.payments) == 1  # made, though we never heard
    link = await h.buy(1)
    assert isinstance(link, PaymentLink)
    assert len(h.gateway.payments) == 1 and h.purchase(link.purchase_id).payment_id == h.payment_id_of(link.purchase_id)
