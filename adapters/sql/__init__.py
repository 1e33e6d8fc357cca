"""Storage on SQLAlchemy 2 (async): SQLite through aiosqlite, PostgreSQL through asyncpg.

``create_engine(url, writer=True)`` → ``SqlaUnitOfWork(engine)``; the schema
is created and kept current by ``upgrade_to_head`` (Alembic migrations shipped in this package).
"""

from adapters.sql.engine import create_engine, ping
from adapters.sql.migrate import current_revision, head_revision, upgrade, upgrade_to_head
from adapters.sql.repositories import (
    SqlaAccessGrantRepository,
    SqlaBlacklistRepository,
    SqlaCustomerRepository,
    SqlaLedgerRepository,
    SqlaOutboxRepository,
    SqlaPurchaseRepository,
)
from adapters.sql.unit_of_work import SqlaUnitOfWork

__all__ = [
    "SqlaAccessGrantRepository",
    "SqlaBlacklistRepository",
    "SqlaCustomerRepository",
    "SqlaLedgerRepository",
    "SqlaOutboxRepository",
    "SqlaPurchaseRepository",
    "SqlaUnitOfWork",
    "create_engine",
    "current_revision",
    "head_revision",
    "ping",
    "upgrade",
    "upgrade_to_head",
]
