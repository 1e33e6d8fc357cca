"""The unit of work on SQLAlchemy: one ``AsyncSession`` and one transaction per ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.sql.errors import conflict_from
from adapters.sql.repositories import (
    SqlaAccessGrantRepository,
    SqlaBlacklistRepository,
    SqlaCustomerRepository,
    SqlaLedgerRepository,
    SqlaOutboxRepository,
    SqlaPurchaseRepository,
)
from application.ports.repositories import (
    AccessGrantRepository,
    BlacklistRepository,
    CustomerRepository,
    LedgerRepository,
    OutboxRepository,
    PurchaseRepository,
)
from application.ports.unit_of_work import UnitOfWork


class SqlaUnitOfWork(UnitOfWork):
    """``async with uow:`` opens a session and begins a transaction; leaving the block without
    ``commit()`` rolls it back; entering again begins a new one. A lost uniqueness race, a
    serialization failure or a deadlock is raised as ``ConcurrencyConflict`` (from the
    repository call or from ``commit``), so the use case can be run again.

    One instance serves one task at a time: blocks may follow each other but not nest or overlap.
    """

    customers: CustomerRepository
    purchases: PurchaseRepository
    ledger: LedgerRepository
    access_grants: AccessGrantRepository
    blacklist: BlacklistRepository
    outbox: OutboxRepository

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already in a transaction; use one per task, without nesting")
        session = self._session_factory()
        self._session = session
        self.customers = SqlaCustomerRepository(session)
        self.purchases = SqlaPurchaseRepository(session)
        self.ledger = SqlaLedgerRepository(session)
        self.access_grants = SqlaAccessGrantRepository(session)
        self.blacklist = SqlaBlacklistRepository(session)
        self.outbox = SqlaOutboxRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._require()
        self._session = None
        try:
            await session.rollback()  # nothing to undo after a commit
        finally:
            await session.close()

    def _require(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        return self._session

    async def commit(self) -> None:
        try:
            await self._require().commit()
        except DBAPIError as exc:
            conflict = conflict_from(exc)
            if conflict is not None:
                raise conflict from exc
            raise

    async def rollback(self) -> None:
        await self._require().rollback()
