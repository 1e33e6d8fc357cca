from datetime import timedelta

import pytest

from application.errors import CustomerBlacklisted
from domain.customer import AttributionRefused, Language
from domain.ids import TelegramId
from tests.unit.harness import Harness


async def test_new_user_is_registered_with_a_code_and_language() -> None:
    h = Harness()
    result = await h.start(1, name="Anna", lang="en-US")
    assert result.is_new and not result.attributed and result.refused is None
    stored = h.customer(1)
    assert stored == result.customer
    assert (stored.first_name, stored.username, stored.language, stored.referrer_id) == (
        "Anna",
        "u1",
        Language.EN,
        None,
    )
    assert stored.registered_at == h.clock.now()
    assert len(h.store.state.customers) == 1


async def test_returning_user_updates_profile_and_keeps_identity() -> None:
    h = Harness()
    first = await h.start(1, name="Anna", lang="ru")
    h.clock.advance(timedelta(days=1))
    again = await h.start(1, name="Anya", lang="en")
    assert not again.is_new
    stored = h.customer(1)
    assert (stored.id, stored.referral_code, stored.registered_at) == (
        first.customer.id,
        first.customer.referral_code,
        first.customer.registered_at,
    )
    assert (stored.first_name, stored.language) == ("Anya", Language.EN)
    assert len(h.store.state.customers) == 1


async def test_payload_attributes_the_new_user() -> None:
    h = Harness()
    referrer = await h.start(1)
    h.clock.advance(timedelta(minutes=3))
    result = await h.start(2, referrer.customer.referral_code.value)
    assert result.attributed and result.refused is None
    assert h.customer(2).referrer_id == referrer.customer.id
    assert h.customer(2).referred_at == h.clock.now()


async def test_existing_user_without_referrer_is_attributed_later() -> None:
    h = Harness()
    referrer = await h.start(1)
    await h.start(2)
    result = await h.start(2, referrer.customer.referral_code.value)
    assert result.attributed and not result.is_new
    assert h.customer(2).referrer_id == referrer.customer.id


async def test_first_touch_wins() -> None:
    h = Harness()
    first = await h.start(1)
    second = await h.start(2)
    await h.start(3, first.customer.referral_code.value)
    result = await h.start(3, second.customer.referral_code.value)
    assert not result.attributed and result.refused is AttributionRefused.ALREADY_ATTRIBUTED
    assert h.customer(3).referrer_id == first.customer.id


@pytest.mark.parametrize("code", ["", "bad code!", "x", "y" * 40, "refXXXXXXX", "ref0000999", "\u0000", "abcdef\n"])
async def test_bad_or_unknown_code_is_ignored_silently(code: str) -> None:
    h = Harness()
    await h.start(1)
    result = await h.start(2, code)
    assert result.is_new and not result.attributed and result.refused is None
    assert h.customer(2).referrer_id is None


async def test_self_referral_is_refused() -> None:
    h = Harness()
    me = await h.start(1)
    result = await h.start(1, me.customer.referral_code.value)
    assert result.refused is AttributionRefused.SELF_REFERRAL and not result.attributed
    assert h.customer(1).referrer_id is None


async def test_cycle_is_refused() -> None:
    h = Harness()
    a = await h.start(1)
    b = await h.start(2, a.customer.referral_code.value)  # A referred B
    result = await h.start(1, b.customer.referral_code.value)  # A comes back with B's code
    assert result.refused is AttributionRefused.CYCLE and not result.attributed
    assert h.customer(1).referrer_id is None
    assert h.customer(2).referrer_id == a.customer.id


async def test_longer_cycle_is_refused() -> None:
    h = Harness()
    a = await h.start(1)
    b = await h.start(2, a.customer.referral_code.value)
    c = await h.start(3, b.customer.referral_code.value)
    result = await h.start(1, c.customer.referral_code.value)
    assert result.refused is AttributionRefused.CYCLE
    assert h.customer(1).referrer_id is None


async def test_blacklisted_referrer_is_refused() -> None:
    h = Harness()
    referrer = await h.start(1)
    await h.ban()(TelegramId(1))
    result = await h.start(2, referrer.customer.referral_code.value)
    assert result.is_new and result.refused is AttributionRefused.REFERRER_NOT_ALLOWED
    assert h.customer(2).referrer_id is None


async def test_customer_who_already_paid_is_not_attributed() -> None:
    h = Harness()
    referrer = await h.start(1)
    await h.start(2)
    await h.pay(2)
    result = await h.start(2, referrer.customer.referral_code.value)
    assert result.refused is AttributionRefused.ALREADY_PAID and not result.attributed
    assert h.customer(2).referrer_id is None


async def test_blacklisted_user_is_refused_and_not_stored() -> None:
    h = Harness()
    await h.ban()(TelegramId(5))
    with pytest.raises(CustomerBlacklisted):
        await h.start(5)
    assert h.store.state.customers == {}


async def test_blacklisted_known_user_profile_is_not_touched() -> None:
    h = Harness()
    await h.start(5, name="Old")
    await h.ban()(TelegramId(5))
    with pytest.raises(CustomerBlacklisted):
        await h.start(5, name="New")
    assert h.customer(5).first_name == "Old"
