"""Engines for the two supported databases: SQLite (one file, one writer at a time) and
PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

SQLITE = "sqlite+aiosqlite"
POSTGRESQL = "postgresql+asyncpg"
SUPPORTED = (SQLITE, POSTGRESQL)

SQLITE_BUSY_TIMEOUT_MS = 30_000

# An execution option for SQLite connections: how their transactions begin ("IMMEDIATE" unless
# set). ``ping`` reads with "DEFERRED" so a health check never waits for the write lock.
SQLITE_BEGIN = "aimpay_sqlite_begin"


def parse_url(url: str) -> URL:
    """The URL, or ``ValueError`` naming what is wrong with it."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    if parsed.drivername not in SUPPORTED:
        hint = ""
        if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
            hint = f"; use {POSTGRESQL}://..."
        elif parsed.drivername in ("sqlite", "sqlite+pysqlite"):
            hint = f"; use {SQLITE}:///path/to/file.db"
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r} (supported: {', '.join(SUPPORTED)}){hint}"
        )
    if parsed.drivername == SQLITE and parsed.database in (None, "", ":memory:"):
        raise ValueError(f"a SQLite database needs a file path, e.g. {SQLITE}:///var/aimpay/aimpay.db")
    return parsed


def create_engine(url: str, *, echo: bool = False, writer: bool = False) -> AsyncEngine:
    """An engine for ``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``; any other
    scheme is refused with ``ValueError``.

    SQLite: the file's directory is created; WAL, foreign keys and a 30 s busy timeout are set on
    every connection, and every transaction starts with ``BEGIN IMMEDIATE``, so concurrent writers
    queue for the lock instead of failing when a reader tries to become a writer.

    ``writer``: the engine the units of work use. On SQLite it holds ONE connection: the file has
    one writer at a time anyway, and writers of this process then wait their turn in the pool's
    queue (first come, first served) instead of each taking the file's lock in turn with its own
    connection and sleeping in SQLite's busy handler, which is what gave /start tails of seconds.
    Readers use an engine made without ``writer`` (a pool of connections that read in
    ``BEGIN DEFERRED`` transactions and never wait for the writer). On PostgreSQL it changes
    nothing: rows are locked, not the database.
    """
    parsed = parse_url(url)
    if parsed.drivername == POSTGRESQL:
        return create_async_engine(parsed, echo=echo, pool_pre_ping=True)
    assert parsed.database is not None
    Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # The writer's transactions always end explicitly (a unit of work commits or rolls back, and
    # closing a connection rolls back what is open), so the pool's extra rollback on every
    # return is one more trip to the driver's thread for nothing.
    pool: dict[str, Any] = (
        {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60, "pool_reset_on_return": None} if writer else {}
    )
    engine = create_async_engine(parsed, echo=echo, **pool)
    _serialise_sqlite_writers(engine)
    return engine


def _serialise_sqlite_writers(engine: AsyncEngine) -> None:
    """SQLAlchemy's documented recipe: the driver emits no BEGIN of its own; we emit ours."""

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN / COMMIT from sqlite3
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        if mode == _NO_TRANSACTION:
            return  # one statement, atomic by itself (see single_statement)
        if mode not in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")


_NO_TRANSACTION = "NONE"


@asynccontextmanager
async def single_statement(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for ONE statement that is atomic by itself, run without a transaction around
    it: SQLite's autocommit (no ``BEGIN``) or PostgreSQL's ``AUTOCOMMIT``, so it costs one round
    trip instead of three (BEGIN, the statement, COMMIT). Do not run two statements on it."""
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            prepared = await connection.execution_options(**{SQLITE_BEGIN: _NO_TRANSACTION})
        else:
            prepared = await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield prepared
        await prepared.commit()  # nothing to commit but SQLAlchemy's own bookkeeping


async def ping(engine: AsyncEngine, timeout: float = 5.0) -> bool:
    """Whether the database answers ``SELECT 1`` within ``timeout`` seconds; never raises."""
    try:
        async with asyncio.timeout(timeout):
            async with engine.connect() as connection:
                await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
                answer: object = (await connection.execute(sa.text("SELECT 1"))).scalar_one()
                return answer == 1
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not fail
        log.warning("database ping failed: %s: %s", type(exc).__name__, exc)
        return False
