"""Queries that both the repositories (inside a write transaction) and the readers run: each
defined once here."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from adapters.sql.tables import ledger_entries
from domain.ids import CustomerId
from domain.money import Currency


def balance(referrer: CustomerId | sa.ColumnElement[Any], currency: Currency) -> sa.Select[Any]:
    """A referrer's balance: the sum of their ledger entries in ``currency``, one indexed
    aggregate on ``(referrer_id, currency)``. ``referrer`` is an id, or a column to correlate
    with (then use it as ``.scalar_subquery()``)."""
    referrer_id = referrer.value if isinstance(referrer, CustomerId) else referrer
    return sa.select(sa.func.coalesce(sa.func.sum(ledger_entries.c.amount_minor), 0)).where(
        ledger_entries.c.referrer_id == referrer_id, ledger_entries.c.currency == currency.code
    )
