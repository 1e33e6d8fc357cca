from datetime import timedelta

import pytest

from application.errors import CustomerNotRegistered, NotAuthorized
from application.use_cases.ban_user import BanOutcome, BanResult
from application.use_cases.start_checkout import AccessReissued, CheckoutCommand
from domain.access import AccessGrant
from domain.ids import AccessGrantId, TelegramId
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
    assert (summary.invited, summary.paid) == (3, 2)
    assert summary.balance == Money(2 * 62_375)  # 12.5% of 4990.00, twice
    assert summary.rate == Percent(1250)


async def test_referral_summary_of_a_newcomer_is_empty() -> None:
    h = Harness()
    await h.start(1)
    summary = await h.summary()(TelegramId(1))
    assert (summary.invited, summary.paid, summary.balance) == (0, 0, Money(0))


async def test_referral_summary_needs_registration() -> None:
    with pytest.raises(CustomerNotRegistered):
        await Harness().summary()(TelegramId(1))


async def test_ban_unknown_id_blacklists_it() -> None:
    h = Harness()
    assert await h.ban()(TelegramId(77)) == BanResult(BanOutcome.BANNED, None)
    assert TelegramId(77) in h.store.state.blacklist
    assert await h.may_use_bot()(TelegramId(77)) is False
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
    assert await h.may_use_bot()(TelegramId(2)) is True
    assert await h.unban()(TelegramId(2)) is False
    assert (await h.start(2)).is_new is False  # can use the bot again


async def test_may_use_bot_unless_blacklisted() -> None:
    h = Harness()
    assert await h.may_use_bot()(TelegramId(3)) is True
    await h.ban()(TelegramId(3))
    assert await h.may_use_bot()(TelegramId(3)) is False
    assert await h.may_use_bot()(TelegramId(4)) is True


async def test_an_admin_is_never_banned_nor_ignored() -> None:
    h = Harness()
    admin = h.terms.admin_ids[0]
    assert await h.ban()(admin) == BanResult(BanOutcome.REFUSED_ADMIN)
    async with h.uow() as uow:
        assert not await uow.blacklist.contains(admin)  # nothing was written
    assert h.course.removed == []
    async with h.uow() as uow:  # even if listed by hand in the database
        await uow.blacklist.add(admin, h.clock.now())
        await uow.commit()
    assert await h.may_use_bot()(admin) is True
    assert (await h.start(admin.value)).is_new  # /start answers an admin even then


async def test_only_an_admin_may_ban_or_unban() -> None:
    h = Harness()
    await h.start(2)
    with pytest.raises(NotAuthorized):
        await h.ban(actor=TelegramId(5))(TelegramId(2))
    with pytest.raises(NotAuthorized):
        await h.unban(actor=TelegramId(5))(TelegramId(2))
    assert h.store.state.blacklist == {} and h.course.removed == []


async def test_a_blacklisted_person_cannot_ban_even_by_a_stale_admin_list() -> None:
    """The actor is judged by the policy at the moment of acting, not by who sent the command."""
    h = Harness()
    await h.ban()(TelegramId(5))
    with pytest.raises(NotAuthorized):
        await h.ban(actor=TelegramId(5))(TelegramId(2))


async def test_ban_still_kicks_when_revoking_links_fails_and_reports_every_failure() -> None:
    h = Harness()
    await h.start(2)
    await h.pay(2)
    await h.deliver_all()
    [first_link] = h.course.live_links
    reissued = await h.checkout()(CheckoutCommand(TelegramId(2), None, "https://t.me/aimpay_bot"))
    assert isinstance(reissued, AccessReissued)  # not in the chat: a new link, the old one revoked
    links = [g.invite_link for g in h.store.state.grants.values() if not g.is_revoked]
    assert len(links) == 1 and links != [first_link]
    h.course.members.add(TelegramId(2))
    h.course.revoke_fails = True

    result = await h.ban()(TelegramId(2))

    assert result.outcome is BanOutcome.BANNED
    assert h.course.removed == [TelegramId(2)] and TelegramId(2) not in h.course.members  # kicked all the same
    assert result.kick_error is not None and f"revoke {links[0]}" in result.kick_error
    assert result.kick_error == f"revoke {links[0]}: fake Telegram cannot revoke {links[0]}"  # the kick worked
    assert all(g.is_revoked for g in h.store.state.grants.values())
    assert TelegramId(2) in h.store.state.blacklist


async def test_ban_tries_every_link_and_joins_a_failed_kick() -> None:
    h = Harness()
    await h.start(2)
    purchase = await h.pay(2)
    await h.deliver_all()
    async with h.uow() as uow:  # two more live links (say, left by an older version)
        for n in range(2):
            await uow.access_grants.add(
                AccessGrant(
                    id=AccessGrantId(h.ids.new_uuid()),
                    purchase_id=purchase.id,
                    customer_id=purchase.customer_id,
                    invite_link=f"https://t.me/+extra{n}",
                    issued_at=h.clock.now(),
                    expires_at=h.clock.now() + timedelta(hours=24),
                )
            )
        await uow.commit()
    live = [g.invite_link for g in h.store.state.grants.values()]
    assert len(live) == 3
    h.course.available = False  # revoking and kicking both fail

    result = await h.ban()(TelegramId(2))

    assert result.outcome is BanOutcome.BANNED
    assert result.kick_error is not None
    assert all(f"revoke {link}" in result.kick_error for link in live)
    assert result.kick_error.startswith("fake Telegram is down; revoke ")  # the kick's error first
    assert result.kick_error.count("; ") == len(live)  # three links and the kick
    assert all(g.is_revoked for g in h.store.state.grants.values())
