from application.services.payments import PaymentOutcome
from application.use_cases.start_checkout import PaymentLink
from domain.ids import TelegramId
from domain.money import Money
from tests.unit.harness import ADMIN, Harness


async def test_referred_buyer_pays_gets_access_and_referrer_is_credited() -> None:
    h = Harness()
    referrer = await h.start(1, name="Anna")
    await h.start(2, referrer.customer.referral_code.value, name="Boris")
    link = await h.buy(2)
    assert isinstance(link, PaymentLink)
    payment_id = next(iter(h.gateway.payments))
    h.gateway.succeed(payment_id)
    assert await h.confirm()(payment_id) is PaymentOutcome.PAID
    assert await h.confirm()(payment_id) is PaymentOutcome.UNCHANGED
    await h.deliver_all()
    assert len(h.course.invites) == 1
    invite = next(iter(h.course.invites))
    assert any(invite in m.text for m in h.notifier.to(TelegramId(2)))
    assert len(h.email.sent) == 1
    assert len(h.notifier.to(TelegramId(1))) == 1
    assert len(h.notifier.to(ADMIN)) == 1
    summary = await h.summary()(TelegramId(1))
    assert (summary.invited, summary.paid, summary.balance) == (1, 1, Money(49_900))
