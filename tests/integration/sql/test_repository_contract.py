"""One contract for every storage behind the ``UnitOfWork`` port: the in-memory fake, SQLite and
PostgreSQL must behave alike, so tests run on the fake say something about production."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from application.ports.unit_of_work import ConcurrencyConflict
from domain.access import AccessGrant
from domain.customer import Customer, Language
from domain.email import Email
from domain.ids import CustomerId, PurchaseId, TelegramId
from domain.ledger import EntryKind
from domain.money import RUB, Currency, Money
from domain.outbox import OutboxKind
from domain.purchase import Purchase, PurchaseStatus
from tests.integration.sql import builders as make
from tests.integration.sql.builders import MSK, T0
from tests.integration.sql.conftest import Backend, store

USD = Currency("USD")
LEASE = timedelta(minutes=2)


# --- the unit of work --------------------------------------------------------------------------


async def test_nothing_is_stored_without_commit(backend: Backend) -> None:
    anna = make.customer()
    async with backend.new_uow() as uow:
        await uow.customers.add(anna)
        assert await uow.customers.get(anna.id) == anna  # visible inside its own transaction
    async with backend.new_uow() as uow:
        assert await uow.customers.get(anna.id) is None


async def test_rollback_drops_the_work_and_commit_keeps_it(backend: Backend) -> None:
    anna, boris = make.customer(), make.customer()
    async with backend.new_uow() as uow:
        await uow.customers.add(anna)
        await uow.rollback()
    async with backend.new_uow() as uow:
        await uow.customers.add(boris)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.customers.get(anna.id) is None
        assert await uow.customers.get(boris.id) == boris


async def test_entering_again_begins_a_new_transaction(backend: Backend) -> None:
    anna, boris = make.customer(), make.customer()
    uow = backend.new_uow()
    async with uow:
        await uow.customers.add(anna)
        await uow.commit()
    async with uow:
        await uow.customers.add(boris)  # left without commit
    async with uow:
        assert await uow.customers.get(anna.id) == anna
        assert await uow.customers.get(boris.id) is None


async def test_an_exception_in_the_block_rolls_back(backend: Backend) -> None:
    anna = make.customer()
    with pytest.raises(RuntimeError, match="boom"):
        async with backend.new_uow() as uow:
            await uow.customers.add(anna)
            raise RuntimeError("boom")
    async with backend.new_uow() as uow:
        assert await uow.customers.get(anna.id) is None


# --- customers ---------------------------------------------------------------------------------


async def test_customer_round_trip_with_every_field(backend: Backend) -> None:
    anna = make.customer(7_000_000_001, username="anna", first_name="Анна", language=Language.EN)
    boris = make.customer(
        2**52 - 1,  # the largest Telegram id: needs BIGINT
        referrer=anna,
        registered_at=T0.astimezone(MSK),  # another zone, the same instant
        username=None,
        first_name="",
    )
    await store(backend, anna, boris)
    async with backend.new_uow() as uow:
        got_anna = await uow.customers.get(anna.id)
        got_boris = await uow.customers.by_telegram_id(boris.telegram_id)
        assert got_anna == anna
        assert got_boris == boris
        assert got_boris is not None and got_boris.registered_at.tzinfo is not None
        assert got_boris.referred_at == T0 + timedelta(minutes=1)
        assert await uow.customers.by_telegram_id(boris.telegram_id, for_update=True) == boris
        assert await uow.customers.by_referral_code(anna.referral_code) == anna
        assert await uow.customers.by_telegram_id(TelegramId(5)) is None
        assert await uow.customers.get(CustomerId(uuid.uuid4())) is None


async def test_customer_save_updates_profile_and_attribution(backend: Backend) -> None:
    anna, boris = make.customer(), make.customer()
    await store(backend, anna, boris)
    async with backend.new_uow() as uow:
        stored = await uow.customers.get(boris.id)
        assert stored is not None
        stored.update_profile("boris_b", "Борис", Language.EN)
        stored.referrer_id, stored.referred_at = anna.id, T0 + timedelta(days=1)
        await uow.customers.save(stored)
        await uow.commit()
    async with backend.new_uow() as uow:
        again = await uow.customers.get(boris.id)
        assert again == stored
        assert again is not None and (again.username, again.language, again.referrer_id) == (
            "boris_b",
            Language.EN,
            anna.id,
        )


async def test_returned_objects_are_copies(backend: Backend) -> None:
    anna = make.customer(first_name="Anna")
    await store(backend, anna)
    async with backend.new_uow() as uow:
        got = await uow.customers.get(anna.id)
        assert got is not None
        got.first_name = "changed, not saved"
        assert (await uow.customers.get(anna.id)) == anna


async def test_referral_chain_nearest_first_and_bounded(backend: Backend) -> None:
    root = make.customer()
    a = make.customer(referrer=root)
    b = make.customer(referrer=a)
    c = make.customer(referrer=b)
    outsider = make.customer(referrer=a)
    await store(backend, root, a, b, c, outsider)
    async with backend.new_uow() as uow:
        assert await uow.customers.referral_chain(c.id) == (b.id, a.id, root.id)
        assert await uow.customers.referral_chain(c.id, limit=2) == (b.id, a.id)
        assert await uow.customers.referral_chain(c.id, limit=0) == ()
        assert await uow.customers.referral_chain(root.id) == ()
        assert await uow.customers.referral_chain(CustomerId(uuid.uuid4())) == ()


async def test_referral_chain_stops_at_the_limit_even_in_a_cycle(backend: Backend) -> None:
    a, b = make.customer(), make.customer()
    await store(backend, a, b)
    async with backend.new_uow() as uow:  # the domain refuses cycles; storage must still end
        a.referrer_id, b.referrer_id = b.id, a.id
        await uow.customers.save(a)
        await uow.customers.save(b)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.customers.referral_chain(a.id, limit=5) == (b.id, a.id, b.id, a.id, b.id)


async def test_duplicate_telegram_id_is_a_concurrency_conflict(backend: Backend) -> None:
    first = make.customer(555)
    await store(backend, first)
    with pytest.raises(ConcurrencyConflict):
        async with backend.new_uow() as uow:
            await uow.customers.add(make.customer(555))
            await uow.commit()
    async with backend.new_uow() as uow:  # the loser's work is gone, the winner's stays
        assert await uow.customers.by_telegram_id(TelegramId(555)) == first


async def test_duplicate_referral_code_is_a_concurrency_conflict(backend: Backend) -> None:
    first = make.customer()
    await store(backend, first)
    clash = make.customer(referral_code=first.referral_code)
    with pytest.raises(ConcurrencyConflict):
        async with backend.new_uow() as uow:
            await uow.customers.add(clash)
            await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.customers.by_referral_code(first.referral_code) == first
        assert await uow.customers.get(clash.id) is None


async def test_saving_what_was_never_added_is_a_lookup_error(backend: Backend) -> None:
    buyer = make.customer()
    bought = make.purchase(buyer, status=PurchaseStatus.PAID, paid_at=T0)
    await store(backend, buyer, bought)
    strangers = (make.customer(), make.purchase(buyer), make.grant(bought), make.message())
    for stranger in strangers:
        with pytest.raises(LookupError, match="add it first"):
            async with backend.new_uow() as uow:
                if isinstance(stranger, Customer):
                    await uow.customers.save(stranger)
                elif isinstance(stranger, Purchase):
                    await uow.purchases.save(stranger)
                elif isinstance(stranger, AccessGrant):
                    await uow.access_grants.save(stranger)
                else:
                    await uow.outbox.save(stranger)
                await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.customers.get(strangers[0].id) is None
        assert await uow.purchases.get(strangers[1].id) is None
        assert list(await uow.access_grants.for_purchase(bought.id)) == []
        assert await uow.outbox.get_by_key(strangers[3].key) is None


async def test_a_payment_id_belongs_to_one_purchase(backend: Backend) -> None:
    buyer = make.customer()
    first, second = make.purchase(buyer, payment_id="pay-1"), make.purchase(buyer)
    await store(backend, buyer, first, second)
    with pytest.raises(ConcurrencyConflict):
        async with backend.new_uow() as uow:
            second.attach_payment("pay-1", None)
            await uow.purchases.save(second)
            await uow.commit()


# --- purchases ---------------------------------------------------------------------------------


async def test_purchase_round_trip_and_save(backend: Backend) -> None:
    buyer = make.customer()
    pending = make.purchase(buyer)
    await store(backend, buyer, pending)
    async with backend.new_uow() as uow:
        got = await uow.purchases.get(pending.id, for_update=True)
        assert got == pending
        assert got is not None and got.email == Email("Buyer.Name+course@example.com")
        assert (got.payment_id, got.confirmation_url, got.paid_at, got.canceled_at) == (None, None, None, None)
        assert got.price == Money(499_000, RUB)
        got.attach_payment("2f0a-payment", "https://yoomoney.test/checkout/2f0a")
        got.status, got.paid_at = PurchaseStatus.PAID, T0 + timedelta(minutes=5)
        await uow.purchases.save(got)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.purchases.get(pending.id) == got
        assert await uow.purchases.get(PurchaseId(uuid.uuid4())) is None


async def test_open_and_paid_purchases_newest_first(backend: Backend) -> None:
    buyer, other = make.customer(), make.customer()
    older = make.purchase(buyer, created_at=T0)
    newer = make.purchase(buyer, created_at=T0 + timedelta(hours=1))
    canceled = make.purchase(buyer, created_at=T0 + timedelta(hours=2), status=PurchaseStatus.CANCELED, canceled_at=T0)
    paid = make.purchase(other, status=PurchaseStatus.PAID, paid_at=T0)
    await store(backend, buyer, other, older, newer, canceled, paid)
    async with backend.new_uow() as uow:
        assert await uow.purchases.open_for(buyer.id) == newer
        assert await uow.purchases.paid_for(buyer.id) is None
        assert await uow.purchases.open_for(other.id) is None
        assert await uow.purchases.paid_for(other.id) == paid


async def test_lock_takes_a_customer_and_keeps_the_transaction(backend: Backend) -> None:
    anna = make.customer()
    await store(backend, anna)
    async with backend.new_uow() as uow:
        await uow.customers.lock(anna.id)
        assert await uow.customers.get(anna.id) == anna


async def test_a_customer_may_have_two_paid_purchases(backend: Backend) -> None:
    """Paying twice happens (two payments in flight); both are stored, the newest is ``paid_for``
    (PaymentRecorder grants nothing for the second and asks the admins to refund it)."""
    buyer = make.customer()
    first = make.purchase(buyer, status=PurchaseStatus.PAID, paid_at=T0, created_at=T0)
    second = make.purchase(buyer, created_at=T0 + timedelta(minutes=1))
    await store(backend, buyer, first, second)
    async with backend.new_uow() as uow:
        second.status, second.paid_at = PurchaseStatus.PAID, T0 + timedelta(minutes=2)
        await uow.purchases.save(second)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.purchases.get(first.id) == first
        assert await uow.purchases.get(second.id) == second
        assert await uow.purchases.paid_for(buyer.id) == second
        assert await uow.purchases.open_for(buyer.id) is None


# --- ledger ------------------------------------------------------------------------------------


async def test_ledger_append_is_idempotent_by_key_and_keeps_the_transaction(backend: Backend) -> None:
    anna, vera = make.customer(), make.customer()
    await store(backend, anna, vera)
    first = make.entry(anna, 49_900, key="credit:one")
    async with backend.new_uow() as uow:
        assert await uow.ledger.append(first) is True
        assert await uow.ledger.append(make.entry(anna, 1, key="credit:one")) is False
        assert await uow.ledger.append(make.entry(vera, 100, key="credit:two")) is True  # still usable
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.ledger.append(make.entry(anna, 7, key="credit:one")) is False
        await uow.commit()
    async with backend.new_uow() as uow:
        assert list(await uow.ledger.entries_for(anna.id)) == [first]
        assert await uow.ledger.balance(anna.id, RUB) == Money(49_900)
        assert await uow.ledger.balance(vera.id, RUB) == Money(100)


async def test_ledger_entries_round_trip_and_balance_is_their_sum(backend: Backend) -> None:
    anna, buyer = make.customer(), make.customer()
    bought = make.purchase(buyer, status=PurchaseStatus.PAID, paid_at=T0)
    await store(backend, anna, buyer, bought)
    entries = [
        make.entry(anna, 49_900, purchase_id=bought.id, created_at=T0),
        make.entry(anna, -30_000, kind=EntryKind.PAYOUT, created_at=T0 + timedelta(days=1)),
        make.entry(anna, 123, kind=EntryKind.ADJUSTMENT, created_at=T0.astimezone(MSK) + timedelta(days=2)),
        make.entry(anna, -5, kind=EntryKind.ADJUSTMENT, created_at=T0 + timedelta(days=3)),
    ]
    dollars = make.entry(anna, 10_000, amount=Money(10_000, USD), created_at=T0 + timedelta(days=4))
    async with backend.new_uow() as uow:
        assert await uow.ledger.balance(anna.id, RUB) == Money.zero(RUB)
        for e in [*entries, dollars]:
            assert await uow.ledger.append(e)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert list(await uow.ledger.entries_for(anna.id)) == [*entries, dollars]
        assert await uow.ledger.balance(anna.id, RUB) == Money(49_900 - 30_000 + 123 - 5, RUB)
        assert await uow.ledger.balance(anna.id, USD) == Money(10_000, USD)
        assert await uow.ledger.entries_for(buyer.id) == []
        assert await uow.ledger.balance(buyer.id, RUB) == Money.zero(RUB)


# --- access grants -----------------------------------------------------------------------------


async def test_access_grants_active_and_by_purchase(backend: Backend) -> None:
    buyer = make.customer()
    bought = make.purchase(buyer, status=PurchaseStatus.PAID, paid_at=T0)
    await store(backend, buyer, bought)
    first = make.grant(bought, issued_at=T0)
    second = make.grant(bought, issued_at=T0 + timedelta(hours=1), expires_at=T0 + timedelta(hours=25))
    async with backend.new_uow() as uow:
        await uow.access_grants.add(first)
        await uow.access_grants.add(second)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert list(await uow.access_grants.active_for(buyer.id)) == [first, second]
        stored = (await uow.access_grants.active_for(buyer.id))[0]
        assert stored.revoke(T0 + timedelta(hours=1))
        await uow.access_grants.save(stored)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert list(await uow.access_grants.active_for(buyer.id)) == [second]
        assert list(await uow.access_grants.for_purchase(bought.id)) == [stored, second]
        assert list(await uow.access_grants.for_purchase(PurchaseId(uuid.uuid4()))) == []


async def test_access_grant_by_invite_link_revoked_or_not_newest_first(backend: Backend) -> None:
    buyer = make.customer()
    bought = make.purchase(buyer, status=PurchaseStatus.PAID, paid_at=T0)
    await store(backend, buyer, bought)
    live = make.grant(bought, issued_at=T0)
    spent = make.grant(bought, issued_at=T0, revoked_at=T0 + timedelta(minutes=5))
    # The same link twice (the offline demo's fake links repeat across runs): the newest wins.
    older = make.grant(bought, invite_link="https://t.me/+again", issued_at=T0)
    newer = make.grant(bought, invite_link="https://t.me/+again", issued_at=T0 + timedelta(hours=1))
    async with backend.new_uow() as uow:
        for grant in (live, spent, older, newer):
            await uow.access_grants.add(grant)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.access_grants.by_invite_link(live.invite_link) == live
        assert await uow.access_grants.by_invite_link(spent.invite_link) == spent
        assert await uow.access_grants.by_invite_link("https://t.me/+again") == newer
        assert await uow.access_grants.by_invite_link("https://t.me/+never-issued") is None


# --- blacklist ---------------------------------------------------------------------------------


async def test_blacklist_add_contains_remove(backend: Backend) -> None:
    banned = TelegramId(2**52 - 1)
    async with backend.new_uow() as uow:
        assert await uow.blacklist.add(banned, T0) is True
        assert await uow.blacklist.add(banned, T0 + timedelta(days=1)) is False
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.blacklist.contains(banned)
        assert not await uow.blacklist.contains(TelegramId(1))
        assert await uow.blacklist.remove(banned) is True
        assert await uow.blacklist.remove(banned) is False
        await uow.commit()
    async with backend.new_uow() as uow:
        assert not await uow.blacklist.contains(banned)


# --- outbox ------------------------------------------------------------------------------------


async def test_outbox_put_is_idempotent_by_key(backend: Backend) -> None:
    original = make.message("purchase:1:access", kind=OutboxKind.GRANT_ACCESS, payload={"purchase_id": "1"})
    async with backend.new_uow() as uow:
        assert await uow.outbox.put(original) is True
        assert await uow.outbox.put(make.message("purchase:1:access", payload={"other": True})) is False
        assert await uow.outbox.put(make.message("purchase:2:access")) is True  # still usable
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.outbox.put(make.message("purchase:1:access")) is False
        assert await uow.outbox.get_by_key("purchase:1:access") == original
        assert await uow.outbox.get_by_key("purchase:2:access") is not None
        assert await uow.outbox.get_by_key("nope") is None


async def test_outbox_message_round_trip(backend: Backend) -> None:
    msg = make.message(created_at=T0.astimezone(MSK))
    assert msg.next_attempt_at == msg.created_at
    async with backend.new_uow() as uow:
        await uow.outbox.put(msg)
        await uow.commit()
    async with backend.new_uow() as uow:
        got = await uow.outbox.get_by_key(msg.key)
        assert got == msg
        assert got is not None and got.payload["text"] == "Привет, <b>мир</b> ✓"
        assert (got.attempts, got.delivered_at, got.failed_at, got.last_error) == (0, None, None, None)


async def claim(backend: Backend, now: object, limit: int = 10) -> list[str]:
    async with backend.new_uow() as uow:
        claimed = await uow.outbox.claim_due(now, limit, LEASE)  # type: ignore[arg-type]
        await uow.commit()
    return [m.key for m in claimed]


async def test_claim_due_leases_messages(backend: Backend) -> None:
    a = make.message("a", created_at=T0)
    b = make.message("b", created_at=T0 + timedelta(seconds=1))
    later = make.message("later", created_at=T0 + timedelta(seconds=2), next_attempt_at=T0 + timedelta(minutes=10))
    async with backend.new_uow() as uow:
        for m in (later, b, a):
            await uow.outbox.put(m)
        await uow.commit()

    now = T0 + timedelta(seconds=5)
    assert await claim(backend, now, limit=1) == ["a"]  # oldest first, at most `limit`
    assert await claim(backend, now) == ["b"]  # "a" is held by its lease
    assert await claim(backend, now + LEASE - timedelta(microseconds=1)) == []
    assert await claim(backend, now + LEASE) == ["a", "b"]  # the holder died: the lease ran out
    assert await claim(backend, T0 + timedelta(minutes=10) + LEASE) == ["a", "b", "later"]


async def test_a_claim_that_is_not_committed_holds_nothing(backend: Backend) -> None:
    async with backend.new_uow() as uow:
        await uow.outbox.put(make.message("a"))
        await uow.commit()
    async with backend.new_uow() as uow:
        assert [m.key for m in await uow.outbox.claim_due(T0, 10, LEASE)] == ["a"]
    assert await claim(backend, T0) == ["a"]


async def test_save_releases_the_claim_and_done_messages_are_never_claimed(backend: Backend) -> None:
    async with backend.new_uow() as uow:
        for key in ("retry", "sent", "given-up"):
            await uow.outbox.put(make.message(key))
        await uow.commit()
    now = T0 + timedelta(seconds=1)
    async with backend.new_uow() as uow:
        claimed = {m.key: m for m in await uow.outbox.claim_due(now, 10, LEASE)}
        assert set(claimed) == {"retry", "sent", "given-up"}
        await uow.commit()
    claimed["retry"].failed(now, "Telegram is down", permanent=False, max_attempts=5)
    claimed["sent"].delivered(now)
    claimed["given-up"].failed(now, "blocked by the user " * 100, permanent=True, max_attempts=5)
    async with backend.new_uow() as uow:
        for m in claimed.values():
            await uow.outbox.save(m)
        await uow.commit()

    retry_at = claimed["retry"].next_attempt_at
    assert retry_at == now + timedelta(seconds=2)
    assert await claim(backend, retry_at - timedelta(microseconds=1)) == []  # backoff
    assert await claim(backend, retry_at) == ["retry"]  # saved: no lease holds it any more
    assert await claim(backend, retry_at + LEASE - timedelta(microseconds=1)) == []  # leased again
    assert await claim(backend, now + timedelta(days=365)) == ["retry"]  # done ones: never
    async with backend.new_uow() as uow:
        for key in claimed:
            assert await uow.outbox.get_by_key(key) == claimed[key]
        given_up = await uow.outbox.get_by_key("given-up")
        assert given_up is not None and given_up.failed_at == now and len(given_up.last_error or "") == 1000


async def test_add_if_absent_stores_a_newcomer_once_and_keeps_the_transaction(backend: Backend) -> None:
    anna = make.customer(501)
    async with backend.new_uow() as uow:
        assert await uow.customers.add_if_absent(anna) is True
        twin = make.customer(501)  # the same Telegram user, another id and code
        assert await uow.customers.add_if_absent(twin) is False
        boris = make.customer(502)
        assert await uow.customers.add_if_absent(boris) is True  # the transaction is still usable
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.customers.by_telegram_id(TelegramId(501)) == anna
        assert await uow.customers.get(twin.id) is None
    clash = make.customer(503, referral_code=anna.referral_code)
    with pytest.raises(ConcurrencyConflict):
        async with backend.new_uow() as uow:
            await uow.customers.add_if_absent(clash)
            await uow.commit()


async def test_a_newcomer_is_taken_in_once_by_one_statement_of_its_own(backend: Backend) -> None:
    anna = make.customer(601)
    assert await backend.newcomers.add_if_absent(anna) is True
    async with backend.new_uow() as uow:  # committed already: no transaction of the caller's
        assert await uow.customers.by_telegram_id(TelegramId(601)) == anna
    assert await backend.newcomers.add_if_absent(make.customer(601)) is False
    with pytest.raises(ConcurrencyConflict):  # a referral code somebody has
        await backend.newcomers.add_if_absent(make.customer(602, referral_code=anna.referral_code))
    async with backend.new_uow() as uow:
        assert await uow.customers.by_telegram_id(TelegramId(602)) is None
    assert await backend.newcomers.add_if_absent(make.customer(602)) is True  # nothing stuck behind
