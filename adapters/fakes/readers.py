"""The readers over the in-memory store: the same contract as the SQL readers, on committed state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from adapters.fakes.unit_of_work import InMemoryUnitOfWork, MemoryStore, ledger_balance
from application.ports.readers import (
    BlacklistReader,
    OutboxBacklog,
    OutboxReader,
    PurchaseStatsReader,
    ReferralReader,
    ReferralStats,
    Referrer,
)
from application.ports.repositories import NewcomerRegistry
from domain.customer import Customer
from domain.ids import ReferralCode, TelegramId
from domain.money import Currency
from domain.purchase import PurchaseStatus


class MemoryReferralReader(ReferralReader):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def referrer(self, code: ReferralCode) -> Referrer | None:
        found = next((c for c in self._store.state.customers.values() if c.referral_code == code), None)
        return Referrer(found.id, found.telegram_id) if found is not None else None

    async def referral_stats(self, telegram_id: TelegramId, currency: Currency) -> ReferralStats | None:
        state = self._store.state
        customer = next((c for c in state.customers.values() if c.telegram_id == telegram_id), None)
        if customer is None:
            return None
        invited = {c.id for c in state.customers.values() if c.referrer_id == customer.id}
        paid = {p.customer_id for p in state.purchases.values() if p.status is PurchaseStatus.PAID}
        return ReferralStats(
            code=customer.referral_code,
            invited=len(invited),
            paid=len(invited & paid),
            balance=ledger_balance(state, customer.id, currency),
        )


class MemoryNewcomerRegistry(NewcomerRegistry):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add_if_absent(self, customer: Customer) -> bool:
        async with InMemoryUnitOfWork(self._store) as uow:
            added = await uow.customers.add_if_absent(customer)
            await uow.commit()
        return added


class MemoryBlacklistReader(BlacklistReader):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def is_blacklisted(self, telegram_id: TelegramId) -> bool:
        return telegram_id in self._store.state.blacklist

    def invalidate(self) -> None:
        """Reads the committed state every time: nothing to forget."""


class MemoryOutboxReader(OutboxReader):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def has_due(self, now: datetime) -> bool:
        state = self._store.state
        return any(
            not m.is_done
            and m.next_attempt_at is not None
            and m.next_attempt_at <= now
            and state.claimed_until.get(m.key, now) <= now
            for m in state.outbox.values()
        )

    async def backlog(self, now: datetime) -> OutboxBacklog:
        pending = [m for m in self._store.state.outbox.values() if not m.is_done]
        due = [m.next_attempt_at for m in pending if m.next_attempt_at is not None and m.next_attempt_at <= now]
        return OutboxBacklog(pending=len(pending), due=len(due), oldest_due_at=min(due, default=None))


class MemoryPurchaseStatsReader(PurchaseStatsReader):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def purchases_by_status(self) -> Mapping[PurchaseStatus, int]:
        counts = dict.fromkeys(PurchaseStatus, 0)
        for purchase in self._store.state.purchases.values():
            counts[purchase.status] += 1
        return counts
