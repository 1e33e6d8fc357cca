"""The database schema as SQLAlchemy Core tables. ``migrations/versions`` must build exactly this
(a test compares them).

Money is ``*_minor BIGINT`` (kopecks) plus ``currency CHAR(3)``; ids are UUIDs; every time is
stored in UTC and read back time-zone aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from domain.customer import Language
from domain.ledger import EntryKind
from domain.outbox import OutboxKind
from domain.purchase import PurchaseStatus

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE``; refuses naive datetimes, stores UTC, returns UTC-aware values
    (SQLite keeps no zone, so UTC is re-attached on read)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store a naive datetime: {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v.value)) for v in values)})"


customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("telegram_id", sa.BigInteger(), nullable=False),
    sa.Column("referral_code", sa.String(32), nullable=False),
    sa.Column("registered_at", UtcDateTime(), nullable=False),
    sa.Column("username", sa.String(64), nullable=True),
    sa.Column("first_name", sa.String(128), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("referrer_id", sa.Uuid(), sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("referred_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("telegram_id"),
    sa.UniqueConstraint("referral_code"),
    sa.CheckConstraint(_one_of("language", Language), name="language"),
    sa.CheckConstraint("referrer_id IS NULL OR referrer_id <> id", name="not_self_referred"),
    sa.Index(None, "referrer_id"),
)

purchases = sa.Table(
    "purchases",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("customer_id", sa.Uuid(), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payment_id", sa.String(128), nullable=True),
    sa.Column("confirmation_url", sa.Text(), nullable=True),
    sa.Column("paid_at", UtcDateTime(), nullable=True),
    sa.Column("canceled_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("payment_id"),
    sa.CheckConstraint(_one_of("status", PurchaseStatus), name="status"),
    sa.CheckConstraint("price_minor > 0", name="price_positive"),
    # No uniqueness of PAID per customer: a second payment that went through must still be
    # recorded (the money arrived); PaymentRecorder grants nothing for it and asks for a refund.
    sa.Index(None, "customer_id", "status", "created_at"),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("referrer_id", sa.Uuid(), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("purchase_id", sa.Uuid(), sa.ForeignKey("purchases.id"), nullable=True),
    sa.UniqueConstraint("key"),
    sa.CheckConstraint(_one_of("kind", EntryKind), name="kind"),
    sa.CheckConstraint("amount_minor <> 0", name="amount_nonzero"),
    sa.Index(None, "referrer_id", "currency"),
    sa.Index(None, "purchase_id"),
)

access_grants = sa.Table(
    "access_grants",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("purchase_id", sa.Uuid(), sa.ForeignKey("purchases.id"), nullable=False),
    sa.Column("customer_id", sa.Uuid(), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("invite_link", sa.Text(), nullable=False),
    sa.Column("issued_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.Index(None, "customer_id"),
    sa.Index(None, "purchase_id"),
    # Not unique: the offline demo's fake links restart their numbering on every run.
    sa.Index(None, "invite_link"),
)

blacklist = sa.Table(
    "blacklist",
    metadata,
    sa.Column("telegram_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("added_at", UtcDateTime(), nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("delivered_at", UtcDateTime(), nullable=True),
    sa.Column("failed_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("claimed_until", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("key"),
    sa.CheckConstraint(_one_of("kind", OutboxKind), name="kind"),
    sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    # The worker's query: undelivered messages by due time.
    sa.Index(
        "ix_outbox_due",
        "next_attempt_at",
        sqlite_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
    ),
)
