"""The unit tests' wiring (``tests.unit.harness.Harness``) on a real database: the real use cases
and SQL storage, with the fakes of Telegram, YooKassa and Resend."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.sql.unit_of_work import SqlaUnitOfWork
from tests.unit.harness import ADMIN, Harness

__all__ = ["ADMIN", "sql_harness"]


def sql_harness(sessions: async_sessionmaker[AsyncSession]) -> Harness:
    """Each use case it builds gets its own units of work, as a request scope would, so use
    cases built from it may run concurrently."""
    return Harness(uow_factory=lambda: SqlaUnitOfWork(sessions))
