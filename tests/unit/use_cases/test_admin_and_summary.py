import pytest

from application.errors import CustomerNotRegistered
from application.use_cases.ban_user import BanOutcome, BanResult
from domain.ids import TelegramId
from domain.money import Money, Percent
from tests.unit.harness import Harness, default_terms


async def test_referral_summary_counts_joined_paid_and_balance() -> None:
    h = Harness(terms=default_terms(referral_rate=Percent(1250)))
    referrer = await h.start(1)
    code = referrer.customer.referral_code.value
    for buyer in (2, 3, 4):
        await h.start(buyer, code)
    await h.start(5)  # not referred
    await h.pay(2)
    await h.pay(3)
    await h.pay(5)
    summary = await h.summary()(TelegramId(1))
    assert summary.code == referrer.customer.referral_code
    assert (summary.joined, summary.paid) == (3, 2)
    assert summary.balance == Money(2 * 62_375)  # 12.5% of 4990.00, twice
    assert summary.rate == Percent(1250)


async def test_referral_summary_of_a_newcomer_is_empty() -> None:
    h = Harness()
    await h.start(1)
    summary = await h.summary()(TelegramId(1))
    assert (summary.joined, summary.paid, summary.balance) == (0, 0, Money(0))


async def test_referral_summary_needs_registration() -> None:
    with pytest.raises(CustomerNotRegistered):
        await Harness().summary()(TelegramId(1))


async def test_ban_unknown_id_blacklists_it() -> None:
    h = Harness()
    assert await h.ban()(TelegramId(77)) == BanResult(BanOutcome.BANNED, None)
    assert TelegramId(77) in h.store.state.blacklist
    assert await h.is_blacklisted()(TelegramId(77)) is True
    assert h.course.removed == [TelegramId(77)]


async def test_ban_revokes_live_links_and_kicks_from_the_chat() -> None:
    h = Harness()
    await h.start(2)
    await h.start(3)
    await h.pay(2)
    await h.pay(3)
    await h.deliver_all()
    link_2 = next(g.invite_link for g in h.store.state.grants.values() if g.customer_id == h.customer(2).id)
    link_3 = next(g.invite_link for g in h.store.state.grants.values() if g.customer_id == h.customer(3).id)
    assert h.course.join(TelegramId(2), link_2, h.clock.now())

    result = await h.ban()(TelegramId(2))
    assert result == BanResult(BanOutcome.BANNED, None)
    assert TelegramId(2) not in h.course.members and h.course.removed == [TelegramId(2)]
    assert h.course.invites[link_2].revoked
    assert h.course.live_links == [link_3]
    grants = {g.invite_link: g for g in h.store.state.grants.values()}
    assert grants[link_2].revoked_at == h.clock.now() and not grants[link_3].is_revoked


async def test_ban_reports_a_failed_kick_but_still_bans() -> None:
    h = Harness()
    await h.start(2)
    await h.pay(2)
    await h.deliver_all()
    h.course.available = False
    result = await h.ban()(TelegramId(2))
    assert result.outcome is BanOutcome.BANNED
    assert result.kick_error and "down" in result.kick_error
    assert TelegramId(2) in h.store.state.blacklist
    assert all(g.is_revoked for g in h.store.state.grants.values())


async def test_ban_twice() -> None:
    h = Harness()
    await h.ban()(TelegramId(2))
    first_at = h.store.state.blacklist[TelegramId(2)]
    assert (await h.ban()(TelegramId(2))).outcome is BanOutcome.ALREADY_BANNED
    assert h.store.state.blacklist == {TelegramId(2): first_at}


async def test_unban() -> None:
    h = Harness()
    await h.start(2)
    await h.ban()(TelegramId(2))
    assert await h.unban()(TelegramId(2)) is True
    assert h.store.state.blacklist == {}
    assert await h.is_blacklisted()(TelegramId(2)) is False
    assert await h.unban()(TelegramId(2)) is False
    assert (await h.start(2)).is_new is False  # can use the bot again


async def test_is_blacklisted() -> None:
    h = Harness()
    assert await h.is_blacklisted()(TelegramId(3)) is False
    await h.ban()(TelegramId(3))
    assert await h.is_blacklisted()(TelegramId(3)) is True
    assert await h.is_blacklisted()(TelegramId(4)) is False
