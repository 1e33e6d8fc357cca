"""The initial schema: customers, purchases, the referral ledger, access grants, the blacklist
and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-05-20

Written by hand to match adapters/sql/tables.py; tests/integration/sql/test_migrations.py checks
that the migrated schema equals the metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("referral_code", sa.String(32), nullable=False),
        sa.Column("registered_at", _utc(), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("first_name", sa.String(128), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("referrer_id", sa.Uuid(), nullable=True),
        sa.Column("referred_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.ForeignKeyConstraint(["referrer_id"], ["customers.id"], name=op.f("fk_customers_referrer_id_customers")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_customers_telegram_id")),
        sa.UniqueConstraint("referral_code", name=op.f("uq_customers_referral_code")),
        sa.CheckConstraint("language IN ('ru', 'en')", name=op.f("ck_customers_language")),
        sa.CheckConstraint("referrer_id IS NULL OR referrer_id <> id", name=op.f("ck_customers_not_self_referred")),
    )
    op.create_index(op.f("ix_customers_referrer_id"), "customers", ["referrer_id"])

    op.create_table(
        "purchases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_id", sa.String(128), nullable=True),
        sa.Column("confirmation_url", sa.Text(), nullable=True),
        sa.Column("paid_at", _utc(), nullable=True),
        sa.Column("canceled_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_purchases_customer_id_customers")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_purchases_payment_id")),
        sa.CheckConstraint("status IN ('pending', 'paid', 'canceled')", name=op.f("ck_purchases_status")),
        sa.CheckConstraint("price_minor > 0", name=op.f("ck_purchases_price_positive")),
    )
    op.create_index(
        op.f("ix_purchases_customer_id_status_created_at"), "purchases", ["customer_id", "status", "created_at"]
    )

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("purchase_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.ForeignKeyConstraint(
            ["referrer_id"], ["customers.id"], name=op.f("fk_ledger_entries_referrer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_ledger_entries_purchase_id_purchases")
        ),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_entries_key")),
        sa.CheckConstraint(
            "kind IN ('referral_credit', 'clawback', 'payout', 'payout_reversal', 'adjustment')",
            name=op.f("ck_ledger_entries_kind"),
        ),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_ledger_entries_amount_nonzero")),
    )
    op.create_index(op.f("ix_ledger_entries_referrer_id_currency"), "ledger_entries", ["referrer_id", "currency"])
    op.create_index(op.f("ix_ledger_entries_purchase_id"), "ledger_entries", ["purchase_id"])

    op.create_table(
        "access_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purchase_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("invite_link", sa.Text(), nullable=False),
        sa.Column("issued_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grants")),
        sa.ForeignKeyConstraint(["purchase_id"], ["purchases.id"], name=op.f("fk_access_grants_purchase_id_purchases")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_access_grants_customer_id_customers")),
    )
    op.create_index(op.f("ix_access_grants_customer_id"), "access_grants", ["customer_id"])
    op.create_index(op.f("ix_access_grants_purchase_id"), "access_grants", ["purchase_id"])
    op.create_index(op.f("ix_access_grants_invite_link"), "access_grants", ["invite_link"])

    op.create_table(
        "blacklist",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("added_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id", name=op.f("pk_blacklist")),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=True),
        sa.Column("delivered_at", _utc(), nullable=True),
        sa.Column("failed_at", _utc(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_until", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
        sa.CheckConstraint(
            "kind IN ('access.grant', 'telegram.message', 'email.message')", name=op.f("ck_outbox_kind")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_not_negative")),
    )
    op.create_index(
        op.f("ix_outbox_due"),
        "outbox",
        ["next_attempt_at"],
        sqlite_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("blacklist")
    op.drop_table("access_grants")
    op.drop_table("ledger_entries")
    op.drop_table("purchases")
    op.drop_table("customers")
