"""Engine set-up: supported URLs, SQLite's pragmas and serialised writers, the health ping."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine, ping
from tests.integration.sql.conftest import sqlite_engine
from tests.standins.server import free_port


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mysql+aiomysql://u@127.0.0.1/db", "unsupported database URL scheme 'mysql\\+aiomysql'"),
        ("postgresql://postgres@127.0.0.1/test", "postgresql\\+asyncpg://"),
        ("sqlite:///x.db", "sqlite\\+aiosqlite:///"),
        ("sqlite+aiosqlite:///:memory:", "needs a file path"),
        ("sqlite+aiosqlite://", "needs a file path"),
        ("definitely not a url", "not a database URL"),
    ],
)
def test_unsupported_urls_are_refused_clearly(url: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        create_engine(url)


async def test_sqlite_file_gets_its_directory_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "aimpay.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert path.exists()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}


async def test_sqlite_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    async with sqlite_engine(tmp_path) as engine:
        database = engine.url.database
        assert database is not None
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")  # only reads, yet holds the write lock
            outsider = sqlite3.connect(database, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    outsider.execute("BEGIN IMMEDIATE")
                await connection.rollback()
                outsider.execute("BEGIN IMMEDIATE")  # free again
                outsider.execute("ROLLBACK")
            finally:
                outsider.close()


async def test_concurrent_sqlite_writers_queue_and_lose_no_update(tmp_path: Path) -> None:
    """Read-modify-write from 20 tasks at once: without BEGIN IMMEDIATE they would fail with
    'database is locked' on the lock upgrade, or overwrite each other."""
    async with sqlite_engine(tmp_path) as engine:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
            await connection.exec_driver_sql("INSERT INTO counter VALUES (0)")

        async def increment() -> None:
            async with engine.connect() as connection:
                n = (await connection.execute(sa.text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0)  # let the others try to interleave
                await connection.execute(sa.text("UPDATE counter SET n = :n"), {"n": n + 1})
                await connection.commit()

        await asyncio.gather(*(increment() for _ in range(20)))
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("SELECT n FROM counter")).scalar_one() == 20


async def test_ping_answers_for_a_live_database(engine: AsyncEngine) -> None:
    assert await ping(engine) is True


async def test_ping_does_not_wait_for_a_sqlite_writer(tmp_path: Path) -> None:
    async with sqlite_engine(tmp_path) as engine, engine.connect() as writer:
        await writer.exec_driver_sql("SELECT 1")  # holds the write lock
        assert await ping(engine, timeout=10) is True


async def test_ping_is_false_when_the_database_is_unreachable(tmp_path: Path) -> None:
    unreachable = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        assert await ping(unreachable, timeout=10) is False
    finally:
        await unreachable.dispose()
    directory = tmp_path / "not-a-dir"
    directory.write_text("a file where the database's directory should be")
    with pytest.raises(FileExistsError):
        create_engine(f"sqlite+aiosqlite:///{directory / 'db.sqlite'}")


async def test_the_writer_engine_queues_writers_in_the_process_not_at_the_file_lock(tmp_path: Path) -> None:
    """With SQLite's busy handler switched off, writers that met at the file's lock would fail at
    once with "database is locked": on the writer engine they never meet there (one connection),
    while a pooled engine's writers do."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    results = {}
    for writer in (True, False):
        engine = create_engine(url, writer=writer)

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _impatient(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout = 0")

        try:
            async with engine.begin() as connection:
                await connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS counter (n INTEGER NOT NULL)")
                await connection.exec_driver_sql("DELETE FROM counter")
                await connection.exec_driver_sql("INSERT INTO counter VALUES (0)")

            async def increment(engine: AsyncEngine = engine) -> None:
                async with engine.connect() as connection:
                    n = (await connection.execute(sa.text("SELECT n FROM counter"))).scalar_one()
                    await asyncio.sleep(0.001)  # hold the write lock while others arrive
                    await connection.execute(sa.text("UPDATE counter SET n = :n"), {"n": n + 1})
                    await connection.commit()

            outcomes = await asyncio.gather(*(increment() for _ in range(20)), return_exceptions=True)
            results[writer] = [o for o in outcomes if isinstance(o, BaseException)]
        finally:
            await engine.dispose()
    assert results[True] == []
    assert results[False] and all("database is locked" in str(e) for e in results[False])
