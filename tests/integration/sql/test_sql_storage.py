"""What only the SQL storage does: UTC on read, database-enforced rules, lost races between
overlapping transactions, and claims that do not overlap between workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tables import customers, outbox
from adapters.sql.unit_of_work import SqlaUnitOfWork
from application.ports.unit_of_work import ConcurrencyConflict
from domain.ids import TelegramId
from domain.money import RUB, Money
from tests.integration.sql import builders as make
from tests.integration.sql.builders import MSK, T0


def uow_of(engine: AsyncEngine) -> SqlaUnitOfWork:
    return SqlaUnitOfWork(engine)


async def _count(engine: AsyncEngine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    async with engine.connect() as connection:
        statement = sa.select(sa.func.count()).select_from(table).where(*where)
        return int((await connection.execute(statement)).scalar_one())


async def test_times_come_back_as_the_same_instant_in_utc(engine: AsyncEngine) -> None:
    anna = make.customer(registered_at=T0.astimezone(MSK))
    anna.referred_at = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=MSK)
    async with uow_of(engine) as uow:
        await uow.customers.add(anna)
        await uow.commit()
    async with uow_of(engine) as uow:
        got = await uow.customers.get(anna.id)
    assert got is not None
    assert got.registered_at == T0 and got.registered_at.tzinfo is UTC
    assert got.referred_at == datetime(2026, 12, 31, 20, 59, 59, 999999, tzinfo=UTC)
    assert got.referred_at is not None and got.referred_at.tzinfo is UTC


async def test_a_naive_datetime_is_refused(engine: AsyncEngine) -> None:
    anna = make.customer()
    anna.referred_at = datetime(2026, 1, 1, 12, 0)  # the domain does not check this one
    with pytest.raises(StatementError, match="naive datetime"):
        async with uow_of(engine) as uow:
            await uow.customers.add(anna)


async def test_big_amounts_and_ids_fit(engine: AsyncEngine) -> None:
    buyer = make.customer(2**52 - 1)
    bought = make.purchase(buyer, price=Money(2**62, RUB))
    async with uow_of(engine) as uow:
        await uow.customers.add(buyer)
        await uow.purchases.add(bought)
        assert await uow.ledger.append(make.entry(buyer, 2**61))
        assert await uow.ledger.append(make.entry(buyer, 2**61))
        await uow.commit()
    async with uow_of(engine) as uow:
        assert await uow.purchases.get(bought.id) == bought
        assert await uow.ledger.balance(buyer.id, RUB) == Money(2**62, RUB)


async def test_a_purchase_of_an_unknown_customer_is_a_bug_not_a_conflict(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError) as caught:
        async with uow_of(engine) as uow:
            await uow.purchases.add(make.purchase(make.customer()))
    assert not isinstance(caught.value, ConcurrencyConflict)


async def test_saving_what_was_never_added_is_refused(engine: AsyncEngine) -> None:
    async with uow_of(engine) as uow:
        with pytest.raises(LookupError, match="no customer"):
            await uow.customers.save(make.customer())
        with pytest.raises(LookupError, match="no outbox message"):
            await uow.outbox.save(make.message())


async def test_the_unit_of_work_refuses_nesting_and_use_outside_its_block(engine: AsyncEngine) -> None:
    uow = uow_of(engine)
    async with uow:
        with pytest.raises(RuntimeError, match="already in a transaction"):
            async with uow:
                pass  # pragma: no cover
    with pytest.raises(RuntimeError, match="outside"):
        await uow.commit()


async def _wait_for_lock_wait(engine: AsyncEngine) -> None:
    """On PostgreSQL: until some session of this database waits for a row lock."""
    if engine.dialect.name != "postgresql":
        for _ in range(10):  # SQLite: let the other task reach BEGIN IMMEDIATE (it waits there)
            await asyncio.sleep(0)
        return
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with engine.connect() as connection:
            if (await connection.execute(query)).scalar_one() > 0:
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the second transaction never waited for the first")


async def test_overlapping_registrations_of_one_telegram_user_lose_with_a_conflict(engine: AsyncEngine) -> None:
    first, second = make.customer(777), make.customer(777)

    async def register_second() -> None:
        async with uow_of(engine) as uow:
            await uow.customers.add(second)
            await uow.commit()

    async with uow_of(engine) as uow:
        await uow.customers.add(first)
        loser = asyncio.create_task(register_second())
        await _wait_for_lock_wait(engine)
        await uow.commit()
    with pytest.raises(ConcurrencyConflict):
        await loser
    async with uow_of(engine) as uow:
        assert await uow.customers.by_telegram_id(TelegramId(777)) == first
    assert await _count(engine, customers) == 1


async def test_concurrent_workers_claim_disjoint_messages(engine: AsyncEngine) -> None:
    keys = [f"m{i}" for i in range(6)]
    async with uow_of(engine) as uow:
        for i, key in enumerate(keys):
            await uow.outbox.put(make.message(key, created_at=T0 + timedelta(seconds=i)))
        await uow.commit()
    now = T0 + timedelta(minutes=1)

    async def worker(limit: int) -> list[str]:
        async with uow_of(engine) as uow:
            claimed = [m.key for m in await uow.outbox.claim_due(now, limit, timedelta(minutes=2))]
            await uow.commit()
        return claimed

    async with uow_of(engine) as uow:
        first = [m.key for m in await uow.outbox.claim_due(now, 3, timedelta(minutes=2))]
        # PostgreSQL skips the rows this open transaction holds; SQLite queues the other worker.
        other = asyncio.create_task(worker(10))
        await uow.commit()
    second = await other
    assert first == keys[:3]
    assert second == keys[3:]
    assert await _count(engine, outbox, outbox.c.claimed_until == now + timedelta(minutes=2)) == 6
