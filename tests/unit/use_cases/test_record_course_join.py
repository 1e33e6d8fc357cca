"""A join of the course chat spends the one-time link; whoever it was passed to is kept out."""

from __future__ import annotations

import copy
from datetime import timedelta

from application.notices import LinkSharedNotice
from application.use_cases.record_course_join import JoinOutcome, RecordCourseJoin
from application.use_cases.start_checkout import AccessReissued
from domain.access import AccessGrant
from domain.customer import Language
from domain.ids import TelegramId
from tests.unit.harness import ADMIN, Harness, default_terms

BUYER, FRIEND, STRANGER = 1, 2, 3


def record_join(h: Harness) -> RecordCourseJoin:
    return h.record_join()


async def paid_with_link(h: Harness, telegram_id: int, name: str = "User") -> AccessGrant:
    """The customer registered, paid, and got their invite link (the outbox delivered)."""
    await h.start(telegram_id, name=name)
    purchase = await h.pay(telegram_id)
    await h.deliver_all()
    [grant] = [g for g in h.store.state.grants.values() if g.purchase_id == purchase.id]
    return grant


def grant_now(h: Harness, grant: AccessGrant) -> AccessGrant:
    return h.store.state.grants[grant.id]


def alerts(h: Harness, admin: TelegramId = ADMIN) -> list[LinkSharedNotice]:
    """The link-shared alerts queued for ``admin``."""
    return [n for n in h.notices_to(admin, LinkSharedNotice) if isinstance(n, LinkSharedNotice)]


async def test_no_link_changes_nothing() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    state, commits = copy.deepcopy(h.store.state), h.store.commits
    assert await record_join(h)(TelegramId(STRANGER), None) is JoinOutcome.NOT_OURS
    assert await record_join(h)(TelegramId(STRANGER), "") is JoinOutcome.NOT_OURS
    assert (h.store.state, h.store.commits) == (state, commits)
    assert grant_now(h, grant).revoked_at is None
    assert h.course.removed == []
    assert grant.invite_link in h.course.live_links


async def test_a_link_we_never_issued_changes_nothing() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    state, commits = copy.deepcopy(h.store.state), h.store.commits
    outcome = await record_join(h)(TelegramId(STRANGER), "https://t.me/+somebody-elses-link")
    assert outcome is JoinOutcome.NOT_OURS
    assert (h.store.state, h.store.commits) == (state, commits)
    assert h.course.removed == []
    assert grant.invite_link in h.course.live_links


async def test_the_owner_joining_spends_the_link() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    h.clock.advance(timedelta(minutes=5))
    assert h.course.join(TelegramId(BUYER), grant.invite_link, h.clock.now())

    assert await record_join(h)(TelegramId(BUYER), grant.invite_link) is JoinOutcome.OWNER_JOINED

    assert grant_now(h, grant).revoked_at == h.clock.now()
    assert grant.invite_link not in h.course.live_links
    assert TelegramId(BUYER) in h.course.members
    assert h.course.removed == []
    assert alerts(h) == []
    async with h.uow() as uow:
        assert list(await uow.access_grants.active_for(grant.customer_id)) == []


async def test_a_spent_link_is_never_handed_out_again() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    await record_join(h)(TelegramId(BUYER), grant.invite_link)
    h.course.members.discard(TelegramId(BUYER))  # the buyer left the chat and asks again
    result = await h.buy(BUYER)
    assert isinstance(result, AccessReissued)
    assert result.invite_link != grant.invite_link


async def test_another_paid_customer_may_stay_but_the_link_is_spent() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    await paid_with_link(h, FRIEND)
    assert h.course.join(TelegramId(FRIEND), grant.invite_link, h.clock.now())

    outcome = await record_join(h)(TelegramId(FRIEND), grant.invite_link)

    assert outcome is JoinOutcome.OTHER_PAID_CUSTOMER
    assert grant_now(h, grant).is_revoked
    assert grant.invite_link not in h.course.live_links
    assert TelegramId(FRIEND) in h.course.members
    assert h.course.removed == []
    assert alerts(h) == []


async def test_a_stranger_is_removed_and_the_admins_are_told() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER, name="Анна")
    await h.start(STRANGER)  # registered, never paid
    assert h.course.join(TelegramId(STRANGER), grant.invite_link, h.clock.now())

    outcome = await record_join(h)(TelegramId(STRANGER), grant.invite_link)

    assert outcome is JoinOutcome.STRANGER_REMOVED
    assert grant_now(h, grant).is_revoked
    assert grant.invite_link not in h.course.live_links
    assert h.course.removed == [TelegramId(STRANGER)]
    assert TelegramId(STRANGER) not in h.course.members
    assert alerts(h) == [LinkSharedNotice(telegram_id=STRANGER, owner="Анна @u1", owner_id=str(BUYER))]
    body = h.render(Language.RU, "admin.link_shared", telegram_id=STRANGER, owner="Анна @u1", owner_id=BUYER)
    await h.deliver_all()
    assert [m.text for m in h.notifier.to(ADMIN)].count(body) == 1


async def test_an_unknown_user_is_removed_too() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    outcome = await record_join(h)(TelegramId(STRANGER), grant.invite_link)  # never started the bot
    assert outcome is JoinOutcome.STRANGER_REMOVED
    assert h.course.removed == [TelegramId(STRANGER)]
    assert len(alerts(h)) == 1


async def test_an_admin_who_joins_by_a_buyers_link_stays_and_the_link_is_spent() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    outcome = await record_join(h)(ADMIN, grant.invite_link)
    assert outcome is JoinOutcome.ADMIN_JOINED
    assert grant_now(h, grant).revoked_at is not None
    assert h.course.removed == [] and alerts(h) == []


async def test_a_blacklisted_joiner_is_removed_even_if_they_paid() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    await paid_with_link(h, FRIEND)
    h.store.state.blacklist[TelegramId(FRIEND)] = h.clock.now()
    outcome = await record_join(h)(TelegramId(FRIEND), grant.invite_link)
    assert outcome is JoinOutcome.STRANGER_REMOVED
    assert h.course.removed == [TelegramId(FRIEND)]
    assert [alert.telegram_id for alert in alerts(h)] == [FRIEND]


async def test_every_admin_is_told_in_their_language() -> None:
    other_admin = TelegramId(998)
    h = Harness(terms=default_terms(admin_ids=(ADMIN, other_admin)))
    await h.start(other_admin.value, name="Boss", lang="en")
    grant = await paid_with_link(h, BUYER, name="Ann")
    await record_join(h)(TelegramId(STRANGER), grant.invite_link)
    values = {"telegram_id": STRANGER, "owner": "Ann @u1", "owner_id": BUYER}
    assert len(alerts(h)) == len(alerts(h, other_admin)) == 1
    await h.deliver_all()
    assert h.render(Language.EN, "admin.link_shared", **values) in h.texts_to(other_admin)
    assert h.render(Language.RU, "admin.link_shared", **values) in h.texts_to(ADMIN)


async def test_a_redelivered_join_changes_nothing_more() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    first = await record_join(h)(TelegramId(STRANGER), grant.invite_link)
    state = copy.deepcopy(h.store.state)
    h.clock.advance(timedelta(minutes=1))

    second = await record_join(h)(TelegramId(STRANGER), grant.invite_link)

    assert first is second is JoinOutcome.STRANGER_REMOVED
    assert h.store.state == state  # same revocation time, no second alert
    assert len(alerts(h)) == 1
    assert TelegramId(STRANGER) not in h.course.members


async def test_a_redelivered_owner_join_keeps_the_first_revocation() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    await record_join(h)(TelegramId(BUYER), grant.invite_link)
    revoked_at, commits = grant_now(h, grant).revoked_at, h.store.commits
    h.clock.advance(timedelta(minutes=1))
    assert await record_join(h)(TelegramId(BUYER), grant.invite_link) is JoinOutcome.OWNER_JOINED
    assert (grant_now(h, grant).revoked_at, h.store.commits) == (revoked_at, commits)


async def test_a_link_revoked_earlier_still_keeps_strangers_out() -> None:
    """The buyer asked for a new link, but Telegram did not revoke the old one, and it was used."""
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    h.course.revoke_fails = True
    h.course.members.discard(TelegramId(BUYER))
    assert isinstance(await h.buy(BUYER), AccessReissued)
    assert grant_now(h, grant).is_revoked and grant.invite_link in h.course.live_links
    h.course.revoke_fails = False

    outcome = await record_join(h)(TelegramId(STRANGER), grant.invite_link)

    assert outcome is JoinOutcome.STRANGER_REMOVED
    assert h.course.removed == [TelegramId(STRANGER)]
    assert grant.invite_link not in h.course.live_links
    assert len(alerts(h)) == 1


async def test_telegram_failures_do_not_undo_the_record() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    h.course.available = False  # neither revoking nor removing works

    outcome = await record_join(h)(TelegramId(STRANGER), grant.invite_link)

    assert outcome is JoinOutcome.STRANGER_REMOVED
    assert grant_now(h, grant).is_revoked
    assert len(alerts(h)) == 1  # the admins can remove them by hand
    assert h.course.removed == []


async def test_a_failed_revoke_still_spends_the_grant() -> None:
    h = Harness()
    grant = await paid_with_link(h, BUYER)
    h.course.revoke_fails = True
    assert await record_join(h)(TelegramId(BUYER), grant.invite_link) is JoinOutcome.OWNER_JOINED
    assert grant_now(h, grant).is_revoked
