"""The readers of ``application.ports.readers`` on SQL: each call is one short read-only
transaction on a connection of its own (``BEGIN DEFERRED`` on SQLite, so a reader never waits
for, or takes, the write lock)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import queries
from adapters.sql.engine import SQLITE_BEGIN
from adapters.sql.tables import blacklist, customers, outbox, purchases
from application.ports.readers import (
    BlacklistReader,
    OutboxBacklog,
    OutboxReader,
    PurchaseStatsReader,
    ReferralReader,
    ReferralStats,
    Referrer,
)
from domain.ids import CustomerId, ReferralCode, TelegramId
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
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._referrers = SqlReferrerCache(engine)

    async def referrer(self, code: ReferralCode) -> Referrer | None:
        return await self._referrers.referrer(code)

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


class SqlReferrerCache(_SqlReader):
    """``ReferralReader.referrer`` with the answers kept (a code never changes hands): a promo
    post that sends thousands through one referral link asks the database once."""

    def __init__(self, engine: AsyncEngine, size: int = 10_000) -> None:
        super().__init__(engine)
        self._size = size
        self._known: dict[str, Referrer] = {}

    async def referrer(self, code: ReferralCode) -> Referrer | None:
        known = self._known.get(code.value)
        if known is not None:
            return known
        statement = sa.select(customers.c.id, customers.c.telegram_id).where(customers.c.referral_code == code.value)
        async with self._reading() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            return None  # not kept: the code may be somebody's tomorrow
        found = Referrer(CustomerId(row[0]), TelegramId(row[1]))
        if len(self._known) >= self._size:
            self._known.pop(next(iter(self._known)))  # the oldest out
        self._known[code.value] = found
        return found


class SqlBlacklistReader(_SqlReader, BlacklistReader):
    """The blacklist as a set in memory. At most every ``refresh`` seconds one cheap query
    (how many rows, the newest ``added_at``, the sum of the ids) tells whether it changed, and only then is it read
    again: a ban or unban reaches every instance within ``refresh`` seconds, and this process at
    once (``invalidate``). Every update of every user asks it, so it must not cost a query each."""

    def __init__(self, engine: AsyncEngine, refresh: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(engine)
        self._refresh = refresh
        self._clock = clock
        self._ids: frozenset[int] = frozenset()
        self._fingerprint: tuple[object, ...] | None = None
        self._checked_at = -math.inf
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._fingerprint = None
        self._checked_at = -math.inf

    async def is_blacklisted(self, telegram_id: TelegramId) -> bool:
        if self._clock() - self._checked_at >= self._refresh:
            await self._check()
        return telegram_id.value in self._ids

    async def _check(self) -> None:
        async with self._lock:
            if self._clock() - self._checked_at < self._refresh:
                return  # another task checked while this one waited
            fingerprint_query = sa.select(
                sa.func.count(), sa.func.max(blacklist.c.added_at), sa.func.sum(blacklist.c.telegram_id)
            )
            async with self._reading() as connection:
                fingerprint = tuple((await connection.execute(fingerprint_query)).one())
                if fingerprint != self._fingerprint:
                    rows = await connection.execute(sa.select(blacklist.c.telegram_id))
                    self._ids = frozenset(int(value) for value in rows.scalars())
                    self._fingerprint = fingerprint
            self._checked_at = self._clock()


class SqlOutboxReader(_SqlReader, OutboxReader):
    async def has_due(self, now: datetime) -> bool:
        statement = (
            sa.select(outbox.c.id)
            .where(
                outbox.c.delivered_at.is_(None),
                outbox.c.failed_at.is_(None),
                outbox.c.next_attempt_at <= now,
                sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
            )
            .limit(1)
        )
        async with self._reading() as connection:
            return (await connection.execute(statement)).first() is not None

    async def backlog(self, now: datetime) -> OutboxBacklog:
        due = outbox.c.next_attempt_at <= now
        statement = sa.select(
            sa.func.count(),
            sa.func.count(sa.case((due, 1))),
            sa.func.min(sa.case((due, outbox.c.next_attempt_at))),
        ).where(outbox.c.delivered_at.is_(None), outbox.c.failed_at.is_(None))
        async with self._reading() as connection:
            pending, due_count, oldest = (await connection.execute(statement)).one()
        return OutboxBacklog(pending=int(pending), due=int(due_count), oldest_due_at=oldest)


class SqlPurchaseStatsReader(_SqlReader, PurchaseStatsReader):
    async def purchases_by_status(self) -> Mapping[PurchaseStatus, int]:
        statement = sa.select(purchases.c.status, sa.func.count()).group_by(purchases.c.status)
        async with self._reading() as connection:
            rows = (await connection.execute(statement)).all()
        counts = dict.fromkeys(PurchaseStatus, 0)
        for status, count in rows:
            counts[PurchaseStatus(status)] = int(count)
        return counts
