"""What the playground's side panels read from the database: customers, the referral ledger and
the outbox. Read-only, in one short ``BEGIN DEFERRED`` transaction on the app's reading engine
(so it never waits for, or takes, the write lock); balances come from the app's own
``SqlReferralReader`` (see ``world.Playground.state``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import SQLITE_BEGIN
from adapters.sql.tables import customers, ledger_entries, outbox, purchases
from domain.money import Currency, Money

OUTBOX_SHOWN = 60


@dataclass(frozen=True)
class CustomerRow:
    telegram_id: int
    name: str
    referrer: str | None


@dataclass(frozen=True)
class LedgerRow:
    created_at: datetime
    referrer: str
    kind: str
    amount: str
    buyer: str | None


@dataclass(frozen=True)
class OutboxRow:
    key: str
    kind: str
    what: str  # the notice's kind, or what the step does
    to: int | str | None  # a Telegram id or an email address
    state: str  # queued, deferred, delivered, failed
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Snapshot:
    customers: list[CustomerRow]
    ledger: list[LedgerRow]
    outbox: list[OutboxRow]


def outbox_state(row: Any, now: datetime) -> str:
    if row.delivered_at is not None:
        return "delivered"
    if row.failed_at is not None:
        return "failed"
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return "deferred"
    return "queued"


def _what(kind: str, payload: Any) -> tuple[str, int | str | None]:
    if not isinstance(payload, dict):
        return kind, None
    notice = payload.get("notice")
    what = str(notice.get("kind")) if isinstance(notice, dict) else kind
    if kind == "access.grant":
        what = "issue the invite link"
    to = payload.get("telegram_id", payload.get("to"))
    return what, to if isinstance(to, int | str) else None


async def snapshot(engine: AsyncEngine, now: datetime) -> Snapshot:
    referrer = customers.alias("referrer")
    buyer = customers.alias("buyer")
    customer_query = (
        sa.select(customers.c.telegram_id, customers.c.first_name, referrer.c.first_name.label("referrer"))
        .select_from(customers.outerjoin(referrer, referrer.c.id == customers.c.referrer_id))
        .order_by(customers.c.registered_at)
    )
    ledger_query = (
        sa.select(
            ledger_entries.c.created_at,
            ledger_entries.c.kind,
            ledger_entries.c.amount_minor,
            ledger_entries.c.currency,
            referrer.c.first_name.label("referrer"),
            referrer.c.telegram_id.label("referrer_id"),
            buyer.c.first_name.label("buyer"),
        )
        .select_from(
            ledger_entries.join(referrer, referrer.c.id == ledger_entries.c.referrer_id)
            .outerjoin(purchases, purchases.c.id == ledger_entries.c.purchase_id)
            .outerjoin(buyer, buyer.c.id == purchases.c.customer_id)
        )
        .order_by(ledger_entries.c.created_at.desc())
    )
    outbox_query = sa.select(outbox).order_by(outbox.c.created_at.desc(), outbox.c.key).limit(OUTBOX_SHOWN)
    async with engine.connect() as connection:
        reading = await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
        customer_rows = (await reading.execute(customer_query)).all()
        ledger_rows = (await reading.execute(ledger_query)).all()
        outbox_rows = (await reading.execute(outbox_query)).all()
    ledger = []
    for row in ledger_rows:
        amount = Money(int(row.amount_minor), Currency(row.currency))
        ledger.append(
            LedgerRow(
                created_at=row.created_at,
                referrer=f"{row.referrer} ({row.referrer_id})",
                kind=str(row.kind),
                amount=f"{amount.to_decimal_string()} {amount.currency}",
                buyer=row.buyer,
            )
        )
    messages = []
    for row in outbox_rows:
        what, to = _what(row.kind, row.payload)
        messages.append(
            OutboxRow(
                key=row.key,
                kind=row.kind,
                what=what,
                to=to,
                state=outbox_state(row, now),
                attempts=int(row.attempts),
                next_attempt_at=row.next_attempt_at,
                last_error=row.last_error,
            )
        )
    return Snapshot(
        customers=[CustomerRow(int(r.telegram_id), r.first_name, r.referrer) for r in customer_rows],
        ledger=ledger,
        outbox=messages,
    )
