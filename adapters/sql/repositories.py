"""The repositories of ``application.ports.repositories`` on one SQLAlchemy ``AsyncSession``.

Core statements and explicit row ↔ dataclass mapping: every call hits the database, nothing is
cached, and a returned object is a fresh copy the caller may change freely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result, RowMapping
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from adapters.sql import queries
from adapters.sql.engine import single_statement
from adapters.sql.errors import conflict_from
from adapters.sql.tables import access_grants, blacklist, customers, ledger_entries, outbox, purchases
from application.ports.repositories import (
    AccessGrantRepository,
    BlacklistRepository,
    CustomerRepository,
    LedgerRepository,
    NewcomerRegistry,
    OutboxRepository,
    PurchaseRepository,
)
from domain.access import AccessGrant
from domain.customer import Customer, Language
from domain.email import Email
from domain.ids import (
    AccessGrantId,
    CustomerId,
    LedgerEntryId,
    OutboxMessageId,
    PurchaseId,
    ReferralCode,
    TelegramId,
)
from domain.ledger import EntryKind, LedgerEntry
from domain.money import Currency, Money
from domain.outbox import OutboxKind, OutboxMessage
from domain.purchase import Purchase, PurchaseStatus

_INSERTS_UNLESS_EXISTS: dict[tuple[str, str, str], Any] = {}


class _SqlaRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        # Rows this transaction read or wrote, by id: a second ``get`` of the same aggregate in
        # one transaction (several event handlers look at the same buyer) costs no query.
        self._seen: dict[Any, Mapping[Any, Any]] = {}

    def forget(self) -> None:
        """The transaction ended: what it saw may change."""
        self._seen.clear()

    def _remember(self, row: Mapping[Any, Any] | None) -> Mapping[Any, Any] | None:
        if row is not None:
            self._seen[row["id"]] = row
        return row

    async def _execute(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Result[Any]:
        """Runs ``statement``; a lost uniqueness race (or deadlock) becomes ``ConcurrencyConflict``."""
        try:
            return await self._connection.execute(statement, parameters)
        except DBAPIError as exc:
            conflict = conflict_from(exc)
            if conflict is not None:
                raise conflict from exc
            raise

    def _insert(self, table: sa.Table) -> Any:
        """A dialect-specific INSERT, which has ``on_conflict_do_nothing``."""
        name = self._connection.dialect.name
        if name == "postgresql":
            return postgresql.insert(table)
        if name == "sqlite":
            return sqlite.insert(table)
        raise ValueError(f"unsupported database dialect {name!r}")  # pragma: no cover - engine refuses it

    async def _insert_unless_exists(self, table: sa.Table, values: dict[str, Any], key: str) -> bool:
        """``INSERT ... ON CONFLICT (key) DO NOTHING``; ``True`` when the row was inserted. A
        duplicate leaves the transaction usable. The statement is built once per table and
        dialect, the values travel as parameters (building it is most of the cost otherwise)."""
        cache_key = (self._connection.dialect.name, table.name, key)
        statement = _INSERTS_UNLESS_EXISTS.get(cache_key)
        if statement is None:
            statement = self._insert(table).on_conflict_do_nothing(index_elements=[table.c[key]])
            _INSERTS_UNLESS_EXISTS[cache_key] = statement
        result = await self._execute(statement, values)
        return bool(result.rowcount)  # type: ignore[attr-defined] # 1 inserted, 0 skipped: no RETURNING round trip

    async def _update(self, table: sa.Table, row_id: Any, values: dict[str, Any], what: str) -> None:
        result = await self._execute(sa.update(table).where(table.c.id == row_id).values(**values))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LookupError(f"no {what} {row_id} to save: add it first")


# --- customers ---------------------------------------------------------------------------------


def _customer_values(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id.value,
        "telegram_id": customer.telegram_id.value,
        "referral_code": customer.referral_code.value,
        "registered_at": customer.registered_at,
        "username": customer.username,
        "first_name": customer.first_name,
        "language": customer.language.value,
        "referrer_id": customer.referrer_id.value if customer.referrer_id else None,
        "referred_at": customer.referred_at,
    }


def _customer(row: Mapping[Any, Any]) -> Customer:
    return Customer(
        id=CustomerId(row["id"]),
        telegram_id=TelegramId(row["telegram_id"]),
        referral_code=ReferralCode(row["referral_code"]),
        registered_at=row["registered_at"],
        username=row["username"],
        first_name=row["first_name"],
        language=Language(row["language"]),
        referrer_id=CustomerId(row["referrer_id"]) if row["referrer_id"] is not None else None,
        referred_at=row["referred_at"],
    )


class SqlNewcomerRegistry(NewcomerRegistry):
    """``INSERT ... ON CONFLICT (telegram_id) DO NOTHING`` as a statement of its own on the
    writer engine (``single_statement``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_if_absent(self, customer: Customer) -> bool:
        async with single_statement(self._engine) as connection:
            return await SqlaCustomerRepository(connection).add_if_absent(customer)


class SqlaCustomerRepository(_SqlaRepository, CustomerRepository):
    async def _one(self, statement: sa.Select[Any]) -> Customer | None:
        row = self._remember((await self._execute(statement)).mappings().first())
        return _customer(row) if row is not None else None

    async def add(self, customer: Customer) -> None:
        values = _customer_values(customer)
        await self._execute(sa.insert(customers).values(**values))
        self._remember(values)

    async def add_if_absent(self, customer: Customer) -> bool:
        """``INSERT ... ON CONFLICT (telegram_id) DO NOTHING``: one statement for a newcomer."""
        values = _customer_values(customer)
        added = await self._insert_unless_exists(customers, values, "telegram_id")
        if added:
            self._remember(values)
        return added

    async def get(self, customer_id: CustomerId) -> Customer | None:
        seen = self._seen.get(customer_id.value)
        if seen is not None:
            return _customer(seen)
        return await self._one(sa.select(customers).where(customers.c.id == customer_id.value))

    async def by_telegram_id(self, telegram_id: TelegramId, *, for_update: bool = False) -> Customer | None:
        statement = sa.select(customers).where(customers.c.telegram_id == telegram_id.value)
        return await self._one(statement.with_for_update() if for_update else statement)

    async def by_referral_code(self, code: ReferralCode) -> Customer | None:
        return await self._one(sa.select(customers).where(customers.c.referral_code == code.value))

    async def save(self, customer: Customer) -> None:
        values = _customer_values(customer)
        await self._update(customers, customer.id.value, {k: v for k, v in values.items() if k != "id"}, "customer")
        self._remember(values)

    async def referral_chain(self, customer_id: CustomerId, limit: int = 1000) -> tuple[CustomerId, ...]:
        """The customer's referrer, the referrer's referrer, ... nearest first (at most ``limit``)."""
        if limit <= 0:
            return ()
        c = customers.alias("c")
        chain = (
            sa.select(customers.c.referrer_id.label("id"), sa.literal_column("1").label("depth"))
            .where(customers.c.id == customer_id.value, customers.c.referrer_id.is_not(None))
            .cte("chain", recursive=True)
        )
        chain = chain.union_all(
            sa.select(c.c.referrer_id, chain.c.depth + sa.literal_column("1"))
            .join(chain, c.c.id == chain.c.id)
            .where(c.c.referrer_id.is_not(None), chain.c.depth < limit)
        )
        rows = await self._execute(sa.select(chain.c.id).order_by(chain.c.depth))
        return tuple(CustomerId(value) for value in rows.scalars())

    async def lock(self, customer_id: CustomerId) -> None:
        """``SELECT ... FOR UPDATE`` on PostgreSQL. On SQLite every write transaction holds the
        database's one write lock from its ``BEGIN IMMEDIATE`` on, so there is nothing more to
        lock (and ``FOR UPDATE`` does not exist there): no query."""
        if self._connection.dialect.name == "sqlite":
            return
        found = await self._execute(
            sa.select(customers.c.id).where(customers.c.id == customer_id.value).with_for_update()
        )
        if found.first() is None:
            raise LookupError(f"no customer {customer_id} to lock")


# --- purchases ---------------------------------------------------------------------------------


def _purchase_values(purchase: Purchase) -> dict[str, Any]:
    return {
        "id": purchase.id.value,
        "customer_id": purchase.customer_id.value,
        "price_minor": purchase.price.minor,
        "currency": purchase.price.currency.code,
        "email": purchase.email.value,
        "created_at": purchase.created_at,
        "status": purchase.status.value,
        "payment_id": purchase.payment_id,
        "confirmation_url": purchase.confirmation_url,
        "paid_at": purchase.paid_at,
        "canceled_at": purchase.canceled_at,
    }


def _purchase(row: Mapping[Any, Any]) -> Purchase:
    return Purchase(
        id=PurchaseId(row["id"]),
        customer_id=CustomerId(row["customer_id"]),
        price=Money(int(row["price_minor"]), Currency(row["currency"])),
        email=Email(row["email"]),
        created_at=row["created_at"],
        status=PurchaseStatus(row["status"]),
        payment_id=row["payment_id"],
        confirmation_url=row["confirmation_url"],
        paid_at=row["paid_at"],
        canceled_at=row["canceled_at"],
    )


class SqlaPurchaseRepository(_SqlaRepository, PurchaseRepository):
    async def _one(self, statement: sa.Select[Any]) -> Purchase | None:
        row = self._remember((await self._execute(statement)).mappings().first())
        return _purchase(row) if row is not None else None

    async def add(self, purchase: Purchase) -> None:
        values = _purchase_values(purchase)
        await self._execute(sa.insert(purchases).values(**values))
        self._remember(values)

    async def get(self, purchase_id: PurchaseId, *, for_update: bool = False) -> Purchase | None:
        """``for_update`` locks the row until the transaction ends (concurrent handlers queue);
        it always asks the database."""
        seen = None if for_update else self._seen.get(purchase_id.value)
        if seen is not None:
            return _purchase(seen)
        statement = sa.select(purchases).where(purchases.c.id == purchase_id.value)
        return await self._one(statement.with_for_update() if for_update else statement)

    async def save(self, purchase: Purchase) -> None:
        values = _purchase_values(purchase)
        await self._update(purchases, purchase.id.value, {k: v for k, v in values.items() if k != "id"}, "purchase")
        self._remember(values)

    async def _newest(self, customer_id: CustomerId, status: PurchaseStatus) -> Purchase | None:
        return await self._one(
            sa.select(purchases)
            .where(purchases.c.customer_id == customer_id.value, purchases.c.status == status.value)
            .order_by(purchases.c.created_at.desc(), purchases.c.id.desc())
            .limit(1)
        )

    async def open_for(self, customer_id: CustomerId) -> Purchase | None:
        """The customer's pending purchase, if any (the newest)."""
        return await self._newest(customer_id, PurchaseStatus.PENDING)

    async def paid_for(self, customer_id: CustomerId) -> Purchase | None:
        return await self._newest(customer_id, PurchaseStatus.PAID)


# --- ledger ------------------------------------------------------------------------------------


def _entry(row: RowMapping) -> LedgerEntry:
    return LedgerEntry(
        id=LedgerEntryId(row["id"]),
        referrer_id=CustomerId(row["referrer_id"]),
        kind=EntryKind(row["kind"]),
        amount=Money(int(row["amount_minor"]), Currency(row["currency"])),
        key=row["key"],
        created_at=row["created_at"],
        purchase_id=PurchaseId(row["purchase_id"]) if row["purchase_id"] is not None else None,
    )


class SqlaLedgerRepository(_SqlaRepository, LedgerRepository):
    async def append(self, entry: LedgerEntry) -> bool:
        """Stores the entry; ``False`` (and nothing stored) when an entry with its key exists."""
        values = {
            "id": entry.id.value,
            "referrer_id": entry.referrer_id.value,
            "kind": entry.kind.value,
            "amount_minor": entry.amount.minor,
            "currency": entry.amount.currency.code,
            "key": entry.key,
            "created_at": entry.created_at,
            "purchase_id": entry.purchase_id.value if entry.purchase_id else None,
        }
        return await self._insert_unless_exists(ledger_entries, values, "key")

    async def entries_for(self, referrer_id: CustomerId) -> Sequence[LedgerEntry]:
        """Oldest first."""
        rows = await self._execute(
            sa.select(ledger_entries)
            .where(ledger_entries.c.referrer_id == referrer_id.value)
            .order_by(ledger_entries.c.created_at, ledger_entries.c.key)
        )
        return [_entry(row) for row in rows.mappings()]

    async def balance(self, referrer_id: CustomerId, currency: Currency) -> Money:
        """The sum of the referrer's entries in ``currency`` (``queries.balance``)."""
        return Money(int((await self._execute(queries.balance(referrer_id, currency))).scalar_one()), currency)


# --- access grants -----------------------------------------------------------------------------


def _grant_values(grant: AccessGrant) -> dict[str, Any]:
    return {
        "id": grant.id.value,
        "purchase_id": grant.purchase_id.value,
        "customer_id": grant.customer_id.value,
        "invite_link": grant.invite_link,
        "issued_at": grant.issued_at,
        "expires_at": grant.expires_at,
        "revoked_at": grant.revoked_at,
    }


def _grant(row: RowMapping) -> AccessGrant:
    return AccessGrant(
        id=AccessGrantId(row["id"]),
        purchase_id=PurchaseId(row["purchase_id"]),
        customer_id=CustomerId(row["customer_id"]),
        invite_link=row["invite_link"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


class SqlaAccessGrantRepository(_SqlaRepository, AccessGrantRepository):
    async def add(self, grant: AccessGrant) -> None:
        await self._execute(sa.insert(access_grants).values(**_grant_values(grant)))

    async def save(self, grant: AccessGrant) -> None:
        values = _grant_values(grant)
        del values["id"]
        await self._update(access_grants, grant.id.value, values, "access grant")

    async def _many(self, condition: sa.ColumnElement[bool]) -> list[AccessGrant]:
        rows = await self._execute(
            sa.select(access_grants).where(condition).order_by(access_grants.c.issued_at, access_grants.c.id)
        )
        return [_grant(row) for row in rows.mappings()]

    async def active_for(self, customer_id: CustomerId) -> Sequence[AccessGrant]:
        """The customer's grants that are not revoked yet, oldest first."""
        return await self._many(
            sa.and_(access_grants.c.customer_id == customer_id.value, access_grants.c.revoked_at.is_(None))
        )

    async def for_purchase(self, purchase_id: PurchaseId) -> Sequence[AccessGrant]:
        """Oldest first."""
        return await self._many(access_grants.c.purchase_id == purchase_id.value)

    async def by_invite_link(self, link: str) -> AccessGrant | None:
        """The newest grant with ``link``, revoked or not."""
        rows = await self._execute(
            sa.select(access_grants)
            .where(access_grants.c.invite_link == link)
            .order_by(access_grants.c.issued_at.desc(), access_grants.c.id.desc())
            .limit(1)
        )
        row = rows.mappings().first()
        return _grant(row) if row is not None else None


# --- blacklist ---------------------------------------------------------------------------------


class SqlaBlacklistRepository(_SqlaRepository, BlacklistRepository):
    async def add(self, telegram_id: TelegramId, at: datetime) -> bool:
        """``False`` when already listed."""
        return await self._insert_unless_exists(
            blacklist, {"telegram_id": telegram_id.value, "added_at": at}, "telegram_id"
        )

    async def remove(self, telegram_id: TelegramId) -> bool:
        result = await self._execute(
            sa.delete(blacklist).where(blacklist.c.telegram_id == telegram_id.value).returning(blacklist.c.telegram_id)
        )
        return result.first() is not None

    async def contains(self, telegram_id: TelegramId) -> bool:
        statement = sa.select(blacklist.c.telegram_id).where(blacklist.c.telegram_id == telegram_id.value)
        return (await self._execute(statement)).first() is not None


# --- outbox ------------------------------------------------------------------------------------


def _message_state(message: OutboxMessage) -> dict[str, Any]:
    return {
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "delivered_at": message.delivered_at,
        "failed_at": message.failed_at,
        "last_error": message.last_error,
    }


def _message(row: RowMapping) -> OutboxMessage:
    return OutboxMessage(
        id=OutboxMessageId(row["id"]),
        key=row["key"],
        kind=OutboxKind(row["kind"]),
        payload=dict(row["payload"]),
        created_at=row["created_at"],
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        delivered_at=row["delivered_at"],
        failed_at=row["failed_at"],
        last_error=row["last_error"],
    )


class SqlaOutboxRepository(_SqlaRepository, OutboxRepository):
    async def put(self, message: OutboxMessage) -> bool:
        """Stores the message; ``False`` (and nothing stored) when one with its key exists."""
        values = {
            "id": message.id.value,
            "key": message.key,
            "kind": message.kind.value,
            "payload": message.payload,
            "created_at": message.created_at,
            "claimed_until": None,
            **_message_state(message),
        }
        return await self._insert_unless_exists(outbox, values, "key")

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> Sequence[OutboxMessage]:
        """Undelivered messages whose time has come and which no other worker holds, the longest
        due first (a message put off to a later slot goes behind those waiting since before);
        holds them for ``lease``. On PostgreSQL rows another worker is claiming right now
        are skipped (``FOR UPDATE SKIP LOCKED``); SQLite has one writer at a time anyway."""
        if limit <= 0:
            return []
        rows = await self._execute(
            sa.select(outbox)
            .where(
                outbox.c.delivered_at.is_(None),
                outbox.c.failed_at.is_(None),
                outbox.c.next_attempt_at.is_not(None),
                outbox.c.next_attempt_at <= now,
                sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.created_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        messages = [_message(row) for row in rows.mappings()]
        if messages:
            await self._execute(
                sa.update(outbox)
                .where(outbox.c.id.in_([m.id.value for m in messages]))
                .values(claimed_until=now + lease)
            )
        return messages

    async def save(self, message: OutboxMessage) -> None:
        """Records the outcome of a delivery attempt and releases the claim."""
        await self._update(
            outbox, message.id.value, {**_message_state(message), "claimed_until": None}, "outbox message"
        )

    async def get_by_key(self, key: str) -> OutboxMessage | None:
        row = (await self._execute(sa.select(outbox).where(outbox.c.key == key))).mappings().first()
        return _message(row) if row is not None else None
