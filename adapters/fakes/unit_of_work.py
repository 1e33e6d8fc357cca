from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar

from application.ports.repositories import (
    AccessGrantRepository,
    BlacklistRepository,
    CustomerRepository,
    LedgerRepository,
    OutboxRepository,
    PurchaseRepository,
)
from application.ports.unit_of_work import ConcurrencyConflict, UnitOfWork
from domain.access import AccessGrant
from domain.customer import Customer
from domain.ids import CustomerId, PurchaseId, ReferralCode, TelegramId
from domain.ledger import LedgerEntry
from domain.money import Currency, Money
from domain.outbox import OutboxMessage
from domain.purchase import Purchase, PurchaseStatus


@dataclass
class MemoryState:
    customers: dict[CustomerId, Customer] = field(default_factory=dict)
    purchases: dict[PurchaseId, Purchase] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    grants: dict[object, AccessGrant] = field(default_factory=dict)
    blacklist: dict[TelegramId, datetime] = field(default_factory=dict)
    outbox: dict[str, OutboxMessage] = field(default_factory=dict)
    claimed_until: dict[str, datetime] = field(default_factory=dict)


class MemoryStore:
    """The committed state, shared by every unit of work made from it. Transactions run one at a
    time (like SQLite's single writer), so a test sees the same serialisation a database gives."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = asyncio.Lock()
        self.commits = 0


class _Repo:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def _s(self) -> MemoryState:
        return self._uow.working


_T = TypeVar("_T")


def _stored(value: _T) -> _T:
    """A copy to keep: what the caller changes later does not leak in, and the events an
    aggregate recorded are not stored with it (the database has no column for them either)."""
    kept = copy.deepcopy(value)
    events = getattr(kept, "events", None)
    if isinstance(events, list):
        events.clear()
    return kept


def ledger_balance(state: MemoryState, referrer_id: CustomerId, currency: Currency) -> Money:
    """The one definition of a referrer's balance in memory: the sum of their entries."""
    return Money(
        sum(e.amount.minor for e in state.ledger if e.referrer_id == referrer_id and e.amount.currency == currency),
        currency,
    )


def _missing(what: str, row_id: object) -> LookupError:
    return LookupError(f"no {what} {row_id} to save: add it first")


class MemoryCustomers(_Repo, CustomerRepository):
    """Unique like the table: id, telegram id and referral code (a clash is ``ConcurrencyConflict``,
    as a lost insert race is in the database)."""

    def _check_unique(self, customer: Customer) -> None:
        for other in self._s.customers.values():
            if other.id == customer.id:
                continue
            if other.telegram_id == customer.telegram_id:
                raise ConcurrencyConflict(f"telegram id {customer.telegram_id} is taken")
            if other.referral_code == customer.referral_code:
                raise ConcurrencyConflict(f"referral code {customer.referral_code} is taken")

    async def add(self, customer: Customer) -> None:
        if customer.id in self._s.customers:
            raise ConcurrencyConflict(f"customer {customer.id} exists")
        self._check_unique(customer)
        self._s.customers[customer.id] = _stored(customer)

    async def add_if_absent(self, customer: Customer) -> bool:
        if any(c.telegram_id == customer.telegram_id for c in self._s.customers.values()):
            return False
        await self.add(customer)
        return True

    async def get(self, customer_id: CustomerId) -> Customer | None:
        return copy.deepcopy(self._s.customers.get(customer_id))

    async def by_telegram_id(self, telegram_id: TelegramId, *, for_update: bool = False) -> Customer | None:
        return copy.deepcopy(next((c for c in self._s.customers.values() if c.telegram_id == telegram_id), None))

    async def by_referral_code(self, code: ReferralCode) -> Customer | None:
        return copy.deepcopy(next((c for c in self._s.customers.values() if c.referral_code == code), None))

    async def save(self, customer: Customer) -> None:
        if customer.id not in self._s.customers:
            raise _missing("customer", customer.id)
        self._check_unique(customer)
        self._s.customers[customer.id] = _stored(customer)

    async def referral_chain(self, customer_id: CustomerId, limit: int = 1000) -> tuple[CustomerId, ...]:
        chain: list[CustomerId] = []
        current = self._s.customers.get(customer_id)
        while current is not None and current.referrer_id is not None and len(chain) < limit:
            chain.append(current.referrer_id)
            current = self._s.customers.get(current.referrer_id)
        return tuple(chain)

    async def lock(self, customer_id: CustomerId) -> None:
        """Transactions run one at a time here: every row is locked already."""


class MemoryPurchases(_Repo, PurchaseRepository):
    """Unique like the table: id and provider payment id."""

    def _check_unique(self, purchase: Purchase) -> None:
        if purchase.payment_id is None:
            return
        if any(p.id != purchase.id and p.payment_id == purchase.payment_id for p in self._s.purchases.values()):
            raise ConcurrencyConflict(f"payment {purchase.payment_id} belongs to another purchase")

    async def add(self, purchase: Purchase) -> None:
        if purchase.id in self._s.purchases:
            raise ConcurrencyConflict(f"purchase {purchase.id} exists")
        self._check_unique(purchase)
        self._s.purchases[purchase.id] = _stored(purchase)

    async def get(self, purchase_id: PurchaseId, *, for_update: bool = False) -> Purchase | None:
        return copy.deepcopy(self._s.purchases.get(purchase_id))

    async def save(self, purchase: Purchase) -> None:
        if purchase.id not in self._s.purchases:
            raise _missing("purchase", purchase.id)
        self._check_unique(purchase)
        self._s.purchases[purchase.id] = _stored(purchase)

    def _newest(self, customer_id: CustomerId, status: PurchaseStatus) -> Purchase | None:
        found = [p for p in self._s.purchases.values() if p.customer_id == customer_id and p.status is status]
        return (
            copy.deepcopy(max(found, key=lambda p: (p.created_at, p.id.value))) if found else None
        )  # as SQL: newest, then the greatest id

    async def open_for(self, customer_id: CustomerId) -> Purchase | None:
        return self._newest(customer_id, PurchaseStatus.PENDING)

    async def paid_for(self, customer_id: CustomerId) -> Purchase | None:
        return self._newest(customer_id, PurchaseStatus.PAID)


class MemoryLedger(_Repo, LedgerRepository):
    async def append(self, entry: LedgerEntry) -> bool:
        if any(e.key == entry.key for e in self._s.ledger):
            return False
        self._s.ledger.append(entry)
        return True

    async def entries_for(self, referrer_id: CustomerId) -> Sequence[LedgerEntry]:
        return [e for e in self._s.ledger if e.referrer_id == referrer_id]

    async def balance(self, referrer_id: CustomerId, currency: Currency) -> Money:
        return ledger_balance(self._s, referrer_id, currency)


class MemoryGrants(_Repo, AccessGrantRepository):
    async def add(self, grant: AccessGrant) -> None:
        if grant.id in self._s.grants:
            raise ConcurrencyConflict(f"access grant {grant.id} exists")
        self._s.grants[grant.id] = _stored(grant)

    async def save(self, grant: AccessGrant) -> None:
        if grant.id not in self._s.grants:
            raise _missing("access grant", grant.id)
        self._s.grants[grant.id] = _stored(grant)

    async def active_for(self, customer_id: CustomerId) -> Sequence[AccessGrant]:
        found = [g for g in self._s.grants.values() if g.customer_id == customer_id and g.revoked_at is None]
        return copy.deepcopy(sorted(found, key=lambda g: g.issued_at))

    async def for_purchase(self, purchase_id: PurchaseId) -> Sequence[AccessGrant]:
        found = [g for g in self._s.grants.values() if g.purchase_id == purchase_id]
        return copy.deepcopy(sorted(found, key=lambda g: g.issued_at))

    async def by_invite_link(self, link: str) -> AccessGrant | None:
        found = [g for g in self._s.grants.values() if g.invite_link == link]
        return copy.deepcopy(max(found, key=lambda g: (g.issued_at, g.id.value))) if found else None


class MemoryBlacklist(_Repo, BlacklistRepository):
    async def add(self, telegram_id: TelegramId, at: datetime) -> bool:
        if telegram_id in self._s.blacklist:
            return False
        self._s.blacklist[telegram_id] = at
        return True

    async def remove(self, telegram_id: TelegramId) -> bool:
        return self._s.blacklist.pop(telegram_id, None) is not None

    async def contains(self, telegram_id: TelegramId) -> bool:
        return telegram_id in self._s.blacklist


class MemoryOutbox(_Repo, OutboxRepository):
    async def put(self, message: OutboxMessage) -> bool:
        if message.key in self._s.outbox:
            return False
        self._s.outbox[message.key] = copy.deepcopy(message)
        return True

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> Sequence[OutboxMessage]:
        due = [
            m
            for m in sorted(
                self._s.outbox.values(), key=lambda m: (m.next_attempt_at or m.created_at, m.created_at, m.id.value)
            )
            if not m.is_done
            and m.next_attempt_at is not None
            and m.next_attempt_at <= now
            and self._s.claimed_until.get(m.key, now) <= now
        ][:limit]
        for m in due:
            self._s.claimed_until[m.key] = now + lease
        return copy.deepcopy(due)

    async def save(self, message: OutboxMessage) -> None:
        if message.key not in self._s.outbox:
            raise _missing("outbox message", message.id)
        self._s.outbox[message.key] = copy.deepcopy(message)
        self._s.claimed_until.pop(message.key, None)

    async def get_by_key(self, key: str) -> OutboxMessage | None:
        return copy.deepcopy(self._s.outbox.get(key))


class InMemoryUnitOfWork(UnitOfWork):
    """A transaction over a ``MemoryStore``: works on a copy, publishes it on ``commit``, drops it
    otherwise. Its repositories refuse what the database's constraints refuse: a uniqueness clash
    is ``ConcurrencyConflict``, saving what was never added is ``LookupError``."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.working = MemoryState()
        self.customers: CustomerRepository = MemoryCustomers(self)
        self.purchases: PurchaseRepository = MemoryPurchases(self)
        self.ledger: LedgerRepository = MemoryLedger(self)
        self.access_grants: AccessGrantRepository = MemoryGrants(self)
        self.blacklist: BlacklistRepository = MemoryBlacklist(self)
        self.outbox: OutboxRepository = MemoryOutbox(self)
        self.committed = False

    async def __aenter__(self) -> Self:
        await self.store.lock.acquire()
        self.working = copy.deepcopy(self.store.state)
        self.committed = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.rollback()
        finally:
            self.store.lock.release()

    async def commit(self) -> None:
        self.store.state = copy.deepcopy(self.working)
        self.store.commits += 1
        self.committed = True

    async def rollback(self) -> None:
        self.working = copy.deepcopy(self.store.state)
