"""One contract for every storage behind the reader ports: the in-memory fake, SQLite and
PostgreSQL answer alike (and a reader only ever sees committed state)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.readers import SqlBlacklistReader
from adapters.sql.unit_of_work import SqlaUnitOfWork
from domain.ids import TelegramId
from domain.ledger import EntryKind
from domain.money import RUB, Currency, Money
from domain.purchase import PurchaseStatus
from tests.integration.sql import builders as make
from tests.integration.sql.builders import T0
from tests.integration.sql.conftest import Backend, store

USD = Currency("USD")


async def test_referral_stats_count_customers_not_purchases(backend: Backend) -> None:
    anna = make.customer()
    boris, vera, gleb = make.customer(referrer=anna), make.customer(referrer=anna), make.customer(referrer=anna)
    stranger = make.customer()
    await store(
        backend,
        anna, boris, vera, gleb, stranger,
        make.purchase(boris, status=PurchaseStatus.PAID, paid_at=T0),
        make.purchase(boris, status=PurchaseStatus.CANCELED),
        make.purchase(boris),
        make.purchase(vera, status=PurchaseStatus.CANCELED),
        make.purchase(gleb, status=PurchaseStatus.PAID, paid_at=T0),
        make.purchase(stranger, status=PurchaseStatus.PAID, paid_at=T0),
    )  # fmt: skip
    stats = await backend.referrals.referral_stats(anna.telegram_id, RUB)
    assert stats is not None
    assert (stats.code, stats.invited, stats.paid, stats.balance) == (anna.referral_code, 3, 2, Money.zero(RUB))
    boris_stats = await backend.referrals.referral_stats(boris.telegram_id, RUB)
    assert boris_stats is not None and (boris_stats.invited, boris_stats.paid) == (0, 0)


async def test_referral_balance_is_the_sum_of_the_entries_in_the_currency(backend: Backend) -> None:
    anna, vera = make.customer(), make.customer()
    await store(backend, anna, vera)
    async with backend.new_uow() as uow:
        for entry in (
            make.entry(anna, 49_900, created_at=T0),
            make.entry(anna, -30_000, kind=EntryKind.PAYOUT, created_at=T0 + timedelta(days=1)),
            make.entry(anna, -5, kind=EntryKind.ADJUSTMENT, created_at=T0 + timedelta(days=2)),
            make.entry(anna, 10_000, amount=Money(10_000, USD), created_at=T0 + timedelta(days=3)),
            make.entry(vera, 7, created_at=T0),
        ):
            assert await uow.ledger.append(entry)
        # Uncommitted work is invisible to a reader.
        assert await uow.ledger.balance(anna.id, RUB) == Money(19_895)
        stats = await backend.referrals.referral_stats(anna.telegram_id, RUB)
        assert stats is not None and stats.balance == Money.zero(RUB)
        await uow.commit()
    for currency, expected in ((RUB, 19_895), (USD, 10_000)):
        stats = await backend.referrals.referral_stats(anna.telegram_id, currency)
        assert stats is not None and stats.balance == Money(expected, currency)
        async with backend.new_uow() as uow:  # the write side's balance is the same query
            assert await uow.ledger.balance(anna.id, currency) == stats.balance


async def test_an_unknown_telegram_user_has_no_stats(backend: Backend) -> None:
    assert await backend.referrals.referral_stats(TelegramId(424242), RUB) is None


async def test_blacklist_reader_sees_committed_bans(backend: Backend) -> None:
    assert await backend.blacklist.is_blacklisted(TelegramId(5)) is False
    async with backend.new_uow() as uow:
        await uow.blacklist.add(TelegramId(5), T0)
        backend.blacklist.invalidate()
        assert await backend.blacklist.is_blacklisted(TelegramId(5)) is False  # not committed yet
        await uow.commit()
    backend.blacklist.invalidate()  # what BanUser does after its commit
    assert await backend.blacklist.is_blacklisted(TelegramId(5)) is True
    assert await backend.blacklist.is_blacklisted(TelegramId(6)) is False
    async with backend.new_uow() as uow:
        assert await uow.blacklist.remove(TelegramId(5))
        await uow.commit()
    backend.blacklist.invalidate()
    assert await backend.blacklist.is_blacklisted(TelegramId(5)) is False


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_another_instance_sees_a_ban_within_the_refresh_period(engine: AsyncEngine) -> None:
    """Two processes: this one bans (and invalidates its own copy), the other learns it by its
    periodic check, with one cheap query per period however many updates arrive."""
    ticks = Ticks()
    other = SqlBlacklistReader(engine, refresh=1.0, clock=ticks)
    assert await other.is_blacklisted(TelegramId(7)) is False
    async with SqlaUnitOfWork(engine) as uow:
        await uow.blacklist.add(TelegramId(7), T0)
        await uow.commit()
    ticks.now = 0.5
    assert await other.is_blacklisted(TelegramId(7)) is False  # its copy is younger than a second
    ticks.now = 1.0
    assert await other.is_blacklisted(TelegramId(7)) is True
    async with SqlaUnitOfWork(engine) as uow:
        await uow.blacklist.remove(TelegramId(7))
        await uow.blacklist.add(TelegramId(8), T0)  # same count, same newest time: the ids tell
        await uow.commit()
    ticks.now = 2.0
    assert await other.is_blacklisted(TelegramId(7)) is False
    assert await other.is_blacklisted(TelegramId(8)) is True


async def test_a_referral_code_names_its_owner(backend: Backend) -> None:
    anna = make.customer()
    await store(backend, anna)
    found = await backend.referrals.referrer(anna.referral_code)
    assert found is not None and (found.customer_id, found.telegram_id) == (anna.id, anna.telegram_id)
    assert await backend.referrals.referrer(anna.referral_code) == found  # again (perhaps from a copy)
    stranger = make.customer()
    assert await backend.referrals.referrer(stranger.referral_code) is None
    await store(backend, stranger)  # a code unknown a moment ago is not remembered as nobody's
    later = await backend.referrals.referrer(stranger.referral_code)
    assert later is not None and later.customer_id == stranger.id


async def test_the_outbox_reader_sees_what_is_due(backend: Backend) -> None:
    now = T0 + timedelta(hours=1)
    assert await backend.outbox.has_due(now) is False
    later = make.message(key="later", created_at=now + timedelta(minutes=5))
    async with backend.new_uow() as uow:
        await uow.outbox.put(later)
        await uow.commit()
    assert await backend.outbox.has_due(now) is False  # not due yet
    due = make.message(key="due", created_at=now - timedelta(minutes=1))
    async with backend.new_uow() as uow:
        await uow.outbox.put(due)
        await uow.commit()
    assert await backend.outbox.has_due(now) is True
    async with backend.new_uow() as uow:
        claimed = await uow.outbox.claim_due(now, 10, timedelta(minutes=2))
        await uow.commit()
    assert [m.key for m in claimed] == ["due"]
    assert await backend.outbox.has_due(now) is False  # held by a worker
    assert await backend.outbox.has_due(now + timedelta(minutes=3)) is True  # its lease ran out


async def test_the_outbox_backlog_counts_what_waits_and_since_when_it_is_due(backend: Backend) -> None:
    now = T0 + timedelta(hours=1)
    empty = await backend.outbox.backlog(now)
    assert (empty.pending, empty.due, empty.oldest_due_at, empty.oldest_due_age(now)) == (0, 0, None, 0.0)
    oldest = make.message(key="oldest", created_at=now - timedelta(minutes=10))
    newer = make.message(key="newer", created_at=now - timedelta(minutes=1))
    later = make.message(key="later", created_at=now + timedelta(minutes=5))
    done = make.message(key="done", created_at=now - timedelta(hours=1))
    given_up = make.message(key="given-up", created_at=now - timedelta(hours=1))
    done.delivered(now - timedelta(minutes=30))
    given_up.failed(now - timedelta(minutes=30), "blocked", permanent=True, max_attempts=50)
    async with backend.new_uow() as uow:
        for message in (oldest, newer, later, done, given_up):
            await uow.outbox.put(message)
        await uow.commit()
    backlog = await backend.outbox.backlog(now)
    assert (backlog.pending, backlog.due) == (3, 2)  # neither the delivered one nor the given-up one
    assert backlog.oldest_due_at == now - timedelta(minutes=10)
    assert backlog.oldest_due_age(now) == 600.0
    async with backend.new_uow() as uow:  # a claimed message is still due: it waits all the same
        assert len(await uow.outbox.claim_due(now, 10, timedelta(minutes=2))) == 2
        await uow.commit()
    assert await backend.outbox.backlog(now) == backlog
    later_on = await backend.outbox.backlog(now + timedelta(minutes=6))
    assert (later_on.pending, later_on.due, later_on.oldest_due_at) == (3, 3, now - timedelta(minutes=10))


async def test_purchases_are_counted_by_status(backend: Backend) -> None:
    assert await backend.purchases.purchases_by_status() == dict.fromkeys(PurchaseStatus, 0)
    anna, boris = make.customer(), make.customer()
    await store(
        backend,
        anna, boris,
        make.purchase(anna, status=PurchaseStatus.PAID, paid_at=T0),
        make.purchase(anna, status=PurchaseStatus.CANCELED, canceled_at=T0),
        make.purchase(boris, status=PurchaseStatus.CANCELED, canceled_at=T0),
        make.purchase(boris),
    )  # fmt: skip
    async with backend.new_uow() as uow:  # uncommitted work is not counted
        await uow.purchases.add(make.purchase(boris))
        assert await backend.purchases.purchases_by_status() == {
            PurchaseStatus.PENDING: 1,
            PurchaseStatus.PAID: 1,
            PurchaseStatus.CANCELED: 2,
        }
