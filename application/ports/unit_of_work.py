from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from application.ports.repositories import (
    AccessGrantRepository,
    BlacklistRepository,
    CustomerRepository,
    LedgerRepository,
    OutboxRepository,
    PurchaseRepository,
)


class UnitOfWork(Protocol):
    """One transaction. ``async with uow:`` begins it; leaving the block without ``commit()``
    rolls it back. Entering again begins a new one."""

    customers: CustomerRepository
    purchases: PurchaseRepository
    ledger: LedgerRepository
    access_grants: AccessGrantRepository
    blacklist: BlacklistRepository
    outbox: OutboxRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class ConcurrencyConflict(Exception):
    """Another transaction changed the same records first (a uniqueness race was lost); the whole
    use case may be tried again and will then see the winner's result."""
