"""The unit tests' wiring (``tests.unit.harness.Harness``) on a real database: the real use cases,
SQL storage and SQL readers, with the fakes of Telegram, YooKassa and Resend; and fresh migrated
SQLite databases cheap enough to make one per Hypothesis example."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from adapters.sql.migrate import upgrade
from adapters.sql.readers import SqlBlacklistReader, SqlOutboxReader, SqlReferralReader
from adapters.sql.repositories import SqlNewcomerRegistry
from adapters.sql.unit_of_work import SqlaUnitOfWork
from tests.unit.harness import ADMIN, Harness

__all__ = ["ADMIN", "sql_harness", "sqlite_copy"]


def sql_harness(engine: AsyncEngine, **fields: object) -> Harness:
    """Each use case it builds gets its own units of work, as a request scope would, so use
    cases built from it may run concurrently. ``await h.state()`` reads the database."""
    return Harness(
        uow_factory=lambda: SqlaUnitOfWork(engine),
        referral_reader=SqlReferralReader(engine),
        newcomer_registry=SqlNewcomerRegistry(engine),
        outbox_reader=SqlOutboxReader(engine),
        blacklist_reader=SqlBlacklistReader(engine),
        engine=engine,
        **fields,  # type: ignore[arg-type]
    )


_template: Path | None = None


async def _migrated_template() -> Path:
    """One migrated SQLite file per test process, made on first use and removed at exit. Its WAL
    is folded into the file (rollback-journal mode), so the file alone is the database; each
    copy's engine turns WAL on again."""
    global _template
    if _template is None:
        directory = Path(tempfile.mkdtemp(prefix="aimpay-sqlite-template-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        path = directory / "template.db"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA journal_mode = DELETE")  # checkpoints the WAL into the file, removes it
        assert not path.with_name(path.name + "-wal").exists()
        _template = path
    return _template


@asynccontextmanager
async def sqlite_copy() -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh migrated SQLite database (a copy of the template file, so no
    migration runs); the engine is disposed and the file removed afterwards."""
    template = await _migrated_template()
    with tempfile.TemporaryDirectory(prefix="aimpay-sqlite-") as directory:
        path = Path(directory) / "aimpay.db"
        shutil.copy(template, path)
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            yield engine
        finally:
            await engine.dispose()
