from datetime import UTC, datetime
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from adapters.fakes.unit_of_work import InMemoryUnitOfWork, MemoryStore
from domain.email import Email
from domain.ids import CustomerId, LedgerEntryId, PurchaseId
from domain.ledger import EntryKind, LedgerEntry, referral_credit
from domain.money import RUB, Money, Percent
from domain.purchase import PaymentStatus, Purchase
from tests.property.support import deterministic, run

T0 = datetime(2026, 1, 15, tzinfo=UTC)
REFERRERS = [CustomerId(UUID(int=1)), CustomerId(UUID(int=2))]
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
    p = Purchase(purchase_id, CustomerId(UUID(int=50)), Money(price), Email("b@example.com"), T0)
    p.apply(PaymentStatus.SUCCEEDED, T0)
    return p


@deterministic(150)
@given(st.lists(st.one_of(credit_attempts, other_attempts), max_size=30))
def test_balance_is_the_sum_of_entries_and_no_key_counts_twice(attempts: list[tuple]) -> None:  # type: ignore[type-arg]
    async def scenario() -> None:
        store = MemoryStore()
        kept: dict[str, LedgerEntry] = {}  # the model: the first entry per key wins
        for n, attempt in enumerate(attempts):
            entry: LedgerEntry | None
            if attempt[0] == "credit":
                _, who, which, price, bp = attempt
                entry = referral_credit(
                    LedgerEntryId(UUID(int=1000 + n)), REFERRERS[who], _paid(PURCHASES[which], price), Percent(bp), T0
                )
            else:
                _, who, kind, size, key, negative = attempt
                sign = kind.sign or (-1 if negative else 1)
                entry = LedgerEntry(
                    LedgerEntryId(UUID(int=1000 + n)), REFERRERS[who], kind, Money(sign * size), key, T0
                )
            if entry is None:
                continue
            async with InMemoryUnitOfWork(store) as uow:
                appended = await uow.ledger.append(entry)
                await uow.commit()
            assert appended == (entry.key not in kept)
            kept.setdefault(entry.key, entry)

        async with InMemoryUnitOfWork(store) as uow:
            for referrer in REFERRERS:
                entries = list(await uow.ledger.entries_for(referrer))
                expected = [e for e in kept.values() if e.referrer_id == referrer]
                assert entries == expected
                assert await uow.ledger.balance(referrer, RUB) == Money(sum(e.amount.minor for e in expected))
        keys = [e.key for e in store.state.ledger]
        assert len(keys) == len(set(keys))
        for purchase_id in PURCHASES:
            assert sum(1 for e in store.state.ledger if e.purchase_id == purchase_id) <= 1

    run(scenario())
