"""The readers of ``application.ports.readers`` on SQL: each call is one short read-only
transaction on a connection of its own (``BEGIN DEFERRED`` on SQLite, so a reader never waits
for, or takes, the write lock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import queries
from adapters.sql.engine import SQLITE_BEGIN
from adapters.sql.tables import blacklist, customers, purchases
from application.ports.readers import BlacklistReader, ReferralReader, ReferralStats
from domain.ids import ReferralCode, TelegramId
from domain.money import Currency, Money
from domain.purchase import PurchaseStatus


class _SqlReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as connection:
            yield await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})


class SqlReferralReader(_SqlReader, ReferralReader):
    async def referral_stats(self, telegram_id: TelegramId, currency: Currency) -> ReferralStats | None:
        referee = customers.alias("referee")
        invited = (
            sa.select(sa.func.count())
            .select_from(referee)
            .where(referee.c.referrer_id == customers.c.id)
            .scalar_subquery()
        )
        paid = (
            sa.select(sa.func.count(sa.distinct(purchases.c.customer_id)))
            .select_from(purchases.join(referee, referee.c.id == purchases.c.customer_id))
            .where(referee.c.referrer_id == customers.c.id, purchases.c.status == PurchaseStatus.PAID.value)
            .scalar_subquery()
        )
        statement = sa.select(
            customers.c.referral_code,
            invited.label("invited"),
            paid.label("paid"),
            queries.balance(customers.c.id, currency).scalar_subquery().label("balance"),
        ).where(customers.c.telegram_id == telegram_id.value)
        async with self._reading() as connection:
            row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return ReferralStats(
            code=ReferralCode(row["referral_code"]),
            invited=int(row["invited"]),
            paid=int(row["paid"]),
            balance=Money(int(row["balance"]), currency),
        )


class SqlBlacklistReader(_SqlReader, BlacklistReader):
    async def is_blacklisted(self, telegram_id: TelegramId) -> bool:
        statement = sa.select(blacklist.c.telegram_id).where(blacklist.c.telegram_id == telegram_id.value)
        async with self._reading() as connection:
            return (await connection.execute(statement)).first() is not None
