"""The outbox carries typed notices, rendered in the recipient's language on delivery:
``telegram.notice`` and ``email.notice`` join the allowed kinds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "kind IN ('access.grant', 'telegram.message', 'email.message')"
_AFTER = "kind IN ('access.grant', 'telegram.notice', 'email.notice', 'telegram.message', 'email.message')"


def _replace_kind_check(condition: str) -> None:
    with op.batch_alter_table("outbox") as batch:  # SQLite rebuilds the table; PostgreSQL alters it
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), condition)


def upgrade() -> None:
    _replace_kind_check(_AFTER)


def downgrade() -> None:
    # Notices still waiting cannot be expressed in the old schema: refuse rather than lose them.
    op.execute(
        "DELETE FROM outbox WHERE kind IN ('telegram.notice', 'email.notice') "
        "AND (delivered_at IS NOT NULL OR failed_at IS NOT NULL)"
    )
    _replace_kind_check(_BEFORE)
