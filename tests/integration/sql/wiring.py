"""The unit tests' wiring (``tests.unit.harness.Harness``) on a real database: the real use cases,
SQL storage and SQL readers, with the fakes of Telegram, YooKassa and Resend."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import make_session_factory
from adapters.sql.readers import SqlBlacklistReader, SqlReferralReader
from adapters.sql.unit_of_work import SqlaUnitOfWork
from tests.unit.harness import ADMIN, Harness

__all__ = ["ADMIN", "sql_harness"]


def sql_harness(engine: AsyncEngine, **fields: object) -> Harness:
    """Each use case it builds gets its own units of work, as a request scope would, so use
    cases built from it may run concurrently."""
    sessions = make_session_factory(engine)
    return Harness(
        uow_factory=lambda: SqlaUnitOfWork(sessions),
        referral_reader=SqlReferralReader(engine),
        blacklist_reader=SqlBlacklistReader(engine),
        **fields,  # type: ignore[arg-type]
    )
