"""Repositories: loading and storing aggregates for change, inside a unit of work. Queries for
lists and summaries are readers (``application.ports.readers``), not repositories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from domain.access import AccessGrant
from domain.customer import Customer
from domain.ids import CustomerId, PurchaseId, ReferralCode, TelegramId
from domain.ledger import LedgerEntry
from domain.money import Currency, Money
from domain.outbox import OutboxMessage
from domain.purchase import Purchase


class CustomerRepository(Protocol):
    async def add(self, customer: Customer) -> None: ...

    async def add_if_absent(self, customer: Customer) -> bool:
        """Stores a new customer unless one with their Telegram id exists (``False``, nothing
        stored; the transaction stays usable). Any other clash is ``ConcurrencyConflict``."""
        ...

    async def get(self, customer_id: CustomerId) -> Customer | None: ...

    async def by_telegram_id(self, telegram_id: TelegramId, *, for_update: bool = False) -> Customer | None: ...

    async def by_referral_code(self, code: ReferralCode) -> Customer | None: ...

    async def save(self, customer: Customer) -> None: ...

    async def lock(self, customer_id: CustomerId) -> None:
        """Locks the customer's row until the transaction ends: what one customer does queues
        (nothing to do where a write transaction already excludes every other writer)."""
        ...

    async def referral_chain(self, customer_id: CustomerId, limit: int = 1000) -> tuple[CustomerId, ...]:
        """The customer's referrer, the referrer's referrer, ... nearest first (at most ``limit``)."""
        ...


class NewcomerRegistry(Protocol):
    """Takes in a customer the shop has never seen, in one atomic statement of its own: no
    transaction of the caller's (most /start come from newcomers, and a transaction would cost
    two more round trips to the database)."""

    async def add_if_absent(self, customer: Customer) -> bool:
        """Stores ``customer`` unless one with their Telegram id exists (``False``, nothing
        stored). Any other clash (a referral code taken) is ``ConcurrencyConflict``."""
        ...


class PurchaseRepository(Protocol):
    async def add(self, purchase: Purchase) -> None: ...

    async def get(self, purchase_id: PurchaseId, *, for_update: bool = False) -> Purchase | None:
        """``for_update`` locks the row until the transaction ends (concurrent handlers queue)."""
        ...

    async def save(self, purchase: Purchase) -> None: ...

    async def open_for(self, customer_id: CustomerId) -> Purchase | None:
        """The customer's pending purchase, if any (the newest)."""
        ...

    async def paid_for(self, customer_id: CustomerId) -> Purchase | None: ...


class LedgerRepository(Protocol):
    async def append(self, entry: LedgerEntry) -> bool:
        """Stores the entry; ``False`` (and nothing stored) when an entry with its key exists."""
        ...

    async def entries_for(self, referrer_id: CustomerId) -> Sequence[LedgerEntry]: ...

    async def balance(self, referrer_id: CustomerId, currency: Currency) -> Money:
        """The sum of the referrer's entries in ``currency``, inside this transaction (the same
        query the ``ReferralReader`` runs: one definition per backend)."""
        ...


class AccessGrantRepository(Protocol):
    async def add(self, grant: AccessGrant) -> None: ...

    async def save(self, grant: AccessGrant) -> None: ...

    async def active_for(self, customer_id: CustomerId) -> Sequence[AccessGrant]:
        """The customer's grants that are not revoked yet."""
        ...

    async def for_purchase(self, purchase_id: PurchaseId) -> Sequence[AccessGrant]: ...

    async def by_invite_link(self, link: str) -> AccessGrant | None:
        """The grant that handed out ``link``, revoked or not (the newest, should a link repeat)."""
        ...


class BlacklistRepository(Protocol):
    async def add(self, telegram_id: TelegramId, at: datetime) -> bool:
        """``False`` when already listed."""
        ...

    async def remove(self, telegram_id: TelegramId) -> bool: ...

    async def contains(self, telegram_id: TelegramId) -> bool: ...


class OutboxRepository(Protocol):
    async def put(self, message: OutboxMessage) -> bool:
        """Stores the message; ``False`` (and nothing stored) when one with its key exists."""
        ...

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> Sequence[OutboxMessage]:
        """Undelivered messages whose time has come and which no other worker holds, the longest
        due first (by ``next_attempt_at``: a deferred message queues behind the ones due before
        it, so one busy chat cannot starve the others); holds them for ``lease`` (a worker that
        dies lets them go when the lease ends)."""
        ...

    async def save(self, message: OutboxMessage) -> None:
        """Records the outcome of a delivery attempt and releases the claim."""
        ...

    async def get_by_key(self, key: str) -> OutboxMessage | None: ...
