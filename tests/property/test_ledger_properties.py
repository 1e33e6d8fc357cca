from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.email import Email
from domain.ids import CustomerId, LedgerEntryId, PurchaseId
from domain.ledger import EntryKind, LedgerEntry, referral_credit
from domain.money import RUB, Money, Percent
from domain.purchase import PaymentStatus, Purchase
from tests.integration.sql import builders
from tests.property.support import BACKENDS, deterministic, harness_on, run
from tests.unit.harness import Harness

T0 = datetime(2026, 1, 15, tzinfo=UTC)
REFERRERS = [CustomerId(UUID(int=1)), CustomerId(UUID(int=2))]
BUYER = CustomerId(UUID(int=50))
PURCHASES = [PurchaseId(UUID(int=100 + i)) for i in range(4)]

credit_attempts = st.tuples(
    st.just("credit"),
    st.integers(0, 1),
    st.integers(0, len(PURCHASES) - 1),
    st.integers(1, 10**9),
    st.integers(0, 10_000),
)
other_attempts = st.tuples(
    st.just("other"),
    st.integers(0, 1),
    st.sampled_from([k for k in EntryKind if k is not EntryKind.REFERRAL_CREDIT]),
    st.integers(1, 10**9),
    st.sampled_from(["payout:1", "payout:2", "adj:1", "adj:2", "clawback:1", "credit:x"]),
    st.booleans(),
)


def _paid(purchase_id: PurchaseId, price: int) -> Purchase:
    p = Purchase(purchase_id, BUYER, Money(price), Email("b@example.com"), T0)
    p.apply(PaymentStatus.SUCCEEDED, T0)
    return p


async def _seed(h: Harness) -> None:
    """What the entries refer to (the database checks it): the referrers, and the buyer's paid
    purchases (one row each; the credits below are computed from prices drawn per attempt)."""
    async with h.uow() as uow:
        for n, referrer in enumerate(REFERRERS, start=1):
            await uow.customers.add(builders.customer(n, id=referrer))
        await uow.customers.add(builders.customer(50, id=BUYER))
        for purchase_id in PURCHASES:
            await uow.purchases.add(_paid(purchase_id, 499_000))
        await uow.commit()


async def _balance_scenario(backend: str, attempts: list[tuple]) -> None:  # type: ignore[type-arg]
    async with harness_on(backend) as h:
        await _seed(h)
        kept: dict[str, LedgerEntry] = {}  # the model: the first entry per key wins
        for n, attempt in enumerate(attempts):
            # Each attempt at a moment of its own, so "oldest first" (entries_for's contract) is the
            # order of appending on every backend; with equal times a database orders by key.
            at = T0 + timedelta(seconds=n)
            entry: LedgerEntry | None
            if attempt[0] == "credit":
                _, who, which, price, bp = attempt
                entry = referral_credit(
                    LedgerEntryId(UUID(int=1000 + n)), REFERRERS[who], _paid(PURCHASES[which], price), Percent(bp), at
                )
            else:
                _, who, kind, size, key, negative = attempt
                sign = kind.sign or (-1 if negative else 1)
                entry = LedgerEntry(
                    LedgerEntryId(UUID(int=1000 + n)), REFERRERS[who], kind, Money(sign * size), key, at
                )
            if entry is None:
                continue
            async with h.uow() as uow:
                appended = await uow.ledger.append(entry)
                await uow.commit()
            assert appended == (entry.key not in kept)
            kept.setdefault(entry.key, entry)

        async with h.uow() as uow:
            for referrer in REFERRERS:
                entries = list(await uow.ledger.entries_for(referrer))
                expected = [e for e in kept.values() if e.referrer_id == referrer]
                assert entries == expected
                assert await uow.ledger.balance(referrer, RUB) == Money(sum(e.amount.minor for e in expected))
        state = await h.state()
        assert state.ledger == list(kept.values())
        keys = [e.key for e in state.ledger]
        assert len(keys) == len(set(keys))
        for purchase_id in PURCHASES:
            assert sum(1 for e in state.ledger if e.purchase_id == purchase_id) <= 1


@pytest.mark.parametrize("backend", BACKENDS)
@deterministic(150)
@given(st.lists(st.one_of(credit_attempts, other_attempts), max_size=30))
def test_balance_is_the_sum_of_entries_and_no_key_counts_twice(backend: str, attempts: list[tuple]) -> None:  # type: ignore[type-arg]
    run(_balance_scenario(backend, attempts))
