"""Databases for the SQL adapter's tests: a temporary SQLite file always; PostgreSQL when
``AIMPAY_TEST_POSTGRES_URL`` is set, each test in a fresh schema that is dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.fakes.readers import (
    MemoryBlacklistReader,
    MemoryNewcomerRegistry,
    MemoryOutboxReader,
    MemoryPurchaseStatsReader,
    MemoryReferralReader,
)
from adapters.fakes.unit_of_work import InMemoryUnitOfWork, MemoryStore
from adapters.sql.engine import create_engine
from adapters.sql.migrate import upgrade
from adapters.sql.readers import SqlBlacklistReader, SqlOutboxReader, SqlPurchaseStatsReader, SqlReferralReader
from adapters.sql.repositories import SqlNewcomerRegistry
from adapters.sql.unit_of_work import SqlaUnitOfWork
from application.ports.readers import BlacklistReader, OutboxReader, PurchaseStatsReader, ReferralReader
from application.ports.repositories import NewcomerRegistry
from application.ports.unit_of_work import UnitOfWork
from domain.customer import Customer
from domain.purchase import Purchase

POSTGRES_URL = os.environ.get("AIMPAY_TEST_POSTGRES_URL", "")

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="PostgreSQL tests need AIMPAY_TEST_POSTGRES_URL, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test",
)

SQL_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=[pytest.mark.postgres, needs_postgres]),
]


@asynccontextmanager
async def sqlite_engine(directory: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{directory / 'db' / 'aimpay.sqlite'}")
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    """Our engine on a schema of its own (``search_path`` set on every new connection)."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(POSTGRES_URL, poolclass=NullPool)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _use_schema(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(lambda raw: raw.execute(f'SET search_path TO "{schema}"'))

    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def blank_engine(kind: str, directory: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of ``kind`` (``sqlite`` or ``postgres``)."""
    context = sqlite_engine(directory) if kind == "sqlite" else postgres_engine()
    async with context as engine:
        yield engine


@pytest.fixture(params=SQL_BACKENDS)
async def blank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with blank_engine(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture(params=SQL_BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated database."""
    async with blank_engine(request.param, tmp_path) as engine:
        await upgrade(engine)
        yield engine


class Backend:
    """Where a contract test's units of work and readers come from."""

    def __init__(
        self,
        name: str,
        new_uow: Callable[[], UnitOfWork],
        referrals: ReferralReader,
        blacklist: BlacklistReader,
        newcomers: NewcomerRegistry,
        outbox: OutboxReader,
        purchases: PurchaseStatsReader,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.name = name
        self.new_uow = new_uow
        self.referrals = referrals
        self.blacklist = blacklist
        self.newcomers = newcomers
        self.outbox = outbox
        self.purchases = purchases
        self.engine = engine

    @property
    def is_sql(self) -> bool:
        return self.engine is not None


@pytest.fixture(params=[pytest.param("memory", id="memory"), *SQL_BACKENDS])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """The in-memory fake or a migrated database, behind the same ``UnitOfWork`` port."""
    if request.param == "memory":
        store = MemoryStore()
        yield Backend(
            "memory",
            lambda: InMemoryUnitOfWork(store),
            MemoryReferralReader(store),
            MemoryBlacklistReader(store),
            MemoryNewcomerRegistry(store),
            MemoryOutboxReader(store),
            MemoryPurchaseStatsReader(store),
        )
        return
    async with blank_engine(request.param, tmp_path) as engine:
        await upgrade(engine)
        yield Backend(
            request.param,
            lambda: SqlaUnitOfWork(engine),
            SqlReferralReader(engine),
            SqlBlacklistReader(engine),
            SqlNewcomerRegistry(engine),
            SqlOutboxReader(engine),
            SqlPurchaseStatsReader(engine),
            engine,
        )


async def store(backend: Backend, *objects: object) -> None:
    """Adds customers and purchases in one committed transaction, in the order given."""
    async with backend.new_uow() as uow:
        for obj in objects:
            if isinstance(obj, Customer):
                await uow.customers.add(obj)
            elif isinstance(obj, Purchase):
                await uow.purchases.add(obj)
            else:
                raise TypeError(f"cannot store {obj!r}")
        await uow.commit()
