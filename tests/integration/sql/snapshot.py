"""The committed state of a SQL database in the in-memory store's shape (``MemoryState``), so a
test that inspects ``MemoryStore.state`` can inspect a database the same way.

Rows become domain objects through the SQL repositories' own mappers; containers are keyed as
the memory store keys them. The memory store keeps insertion order; a table has none, so each
one is read in the order its repository reads it (oldest first, ties broken by a unique column).
Where every timestamp is equal, that order may differ from the memory store's insertion order.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.fakes.unit_of_work import MemoryState
from adapters.sql.engine import SQLITE_BEGIN
from adapters.sql.repositories import _customer, _entry, _grant, _message, _purchase
from adapters.sql.tables import access_grants, blacklist, customers, ledger_entries, metadata, outbox, purchases
from domain.ids import TelegramId

__all__ = ["snapshot"]

_READ = {
    customers: (customers.c.registered_at, customers.c.id),
    purchases: (purchases.c.created_at, purchases.c.id),
    ledger_entries: (ledger_entries.c.created_at, ledger_entries.c.key),  # as LedgerRepository.entries_for
    access_grants: (access_grants.c.issued_at, access_grants.c.id),
    blacklist: (blacklist.c.added_at, blacklist.c.telegram_id),
    outbox: (outbox.c.created_at, outbox.c.id),  # as OutboxRepository.claim_due
}
# A table added to the schema must be added here too, or the snapshot would silently miss it.
assert set(_READ) == set(metadata.tables.values()), "snapshot() does not read every table"


async def snapshot(engine: AsyncEngine) -> MemoryState:
    """Every table's committed rows, read in one transaction (a deferred one on SQLite: it takes
    no write lock)."""
    state = MemoryState()
    async with engine.connect() as connection:
        await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
        async with connection.begin():

            async def rows(table: sa.Table) -> list[sa.RowMapping]:
                result = await connection.execute(sa.select(table).order_by(*_READ[table]))
                return list(result.mappings())

            for row in await rows(customers):
                customer = _customer(row)
                state.customers[customer.id] = customer
            for row in await rows(purchases):
                purchase = _purchase(row)
                state.purchases[purchase.id] = purchase
            state.ledger = [_entry(row) for row in await rows(ledger_entries)]
            for row in await rows(access_grants):
                grant = _grant(row)
                state.grants[grant.id] = grant
            for row in await rows(blacklist):
                state.blacklist[TelegramId(row["telegram_id"])] = row["added_at"]
            for row in await rows(outbox):
                message = _message(row)
                state.outbox[message.key] = message
                if row["claimed_until"] is not None:  # the memory store forgets a claim on save too
                    state.claimed_until[message.key] = row["claimed_until"]
    return state
