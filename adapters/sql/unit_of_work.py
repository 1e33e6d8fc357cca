"""The unit of work on SQLAlchemy Core: one connection and one transaction per ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in a transaction; use one per task, without nesting")
        # The transaction begins with the first statement (SQLAlchemy's autobegin) and again
        # after each commit: no empty BEGIN ... ROLLBACK for a block that ends with its commit.
        connection = await self._engine.connect()
        self._connection = connection
        self.customers = SqlaCustomerRepository(connection)
        self.purchases = SqlaPurchaseRepository(connection)
        self.ledger = SqlaLedgerRepository(connection)
        self.access_grants = SqlaAccessGrantRepository(connection)
        self.blacklist = SqlaBlacklistRepository(connection)
        self.outbox = SqlaOutboxRepository(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._require()
        self._connection = None
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    def _require(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        return self._connection

    async def commit(self) -> None:
        """Commits; the block's later statements (if any) run in a new transaction."""
        self._forget()
        try:
            await self._require().commit()
        except DBAPIError as exc:
            conflict = conflict_from(exc)
            if conflict is not None:
                raise conflict from exc
            raise

    async def rollback(self) -> None:
        self._forget()
        await self._require().rollback()

    def _forget(self) -> None:
        for repository in (self.customers, self.purchases):
            if isinstance(repository, SqlaCustomerRepository | SqlaPurchaseRepository):
                repository.forget()
