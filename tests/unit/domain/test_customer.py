from datetime import datetime, timedelta

import pytest

from domain.customer import AttributionRefused, Customer, Language, ReferralChain, attribute
from domain.errors import InvalidValue
from domain.ids import CustomerId, ReferralCode, TelegramId
from tests.unit.domain.factories import T0, customer

LATER = T0 + timedelta(days=1)


def _attribute(
    c: Customer, r: Customer, chain: tuple[CustomerId, ...] = (), *, blacklisted: bool = False, paid: bool = False
):
    return attribute(
        c, r.id, ReferralChain(chain), referrer_may_refer=not blacklisted, customer_has_paid=paid, at=LATER
    )


def test_attribution_sets_referrer_and_time() -> None:
    referrer, c = customer(), customer()
    assert _attribute(c, referrer) is None
    assert c.referrer_id == referrer.id
    assert c.referred_at == LATER


def test_first_touch_wins() -> None:
    first, second, c = customer(), customer(), customer()
    assert _attribute(c, first) is None
    assert _attribute(c, second) is AttributionRefused.ALREADY_ATTRIBUTED
    assert c.referrer_id == first.id
    assert c.referred_at == LATER


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"blacklisted": True}, AttributionRefused.REFERRER_NOT_ALLOWED),
        ({"paid": True}, AttributionRefused.ALREADY_PAID),
    ],
)
def test_refusals_leave_the_customer_unchanged(kwargs: dict[str, bool], reason: AttributionRefused) -> None:
    referrer, c = customer(), customer()
    assert _attribute(c, referrer, **kwargs) is reason
    assert c.referrer_id is None and c.referred_at is None


def test_self_referral_is_refused() -> None:
    c = customer()
    assert _attribute(c, c) is AttributionRefused.SELF_REFERRAL
    assert c.referrer_id is None


def test_direct_cycle_is_refused() -> None:
    a = customer()
    b = customer(referrer=a)  # A referred B
    assert _attribute(a, b, chain=(a.id,)) is AttributionRefused.CYCLE
    assert a.referrer_id is None


def test_long_cycle_is_refused() -> None:
    a = customer()
    b = customer(referrer=a)
    c = customer(referrer=b)
    d = customer(referrer=c)
    assert _attribute(a, d, chain=(c.id, b.id, a.id)) is AttributionRefused.CYCLE
    assert a.referrer_id is None


def test_chain_without_the_customer_is_fine() -> None:
    a, x = customer(), customer()
    b = customer(referrer=x)
    assert _attribute(a, b, chain=(x.id,)) is None


def test_customer_needs_aware_time_and_trims_profile() -> None:
    with pytest.raises(InvalidValue):
        Customer(
            CustomerId.parse("00000000-0000-0000-0000-000000000001"),
            TelegramId(1),
            ReferralCode("abcdef"),
            datetime(2026, 1, 1),
        )
    c = customer()
    c.update_profile("u" * 100, "n" * 200, Language.EN)
    assert (len(c.username or ""), len(c.first_name), c.language) == (64, 128, Language.EN)
    c.update_profile("", "", Language.RU)
    assert (c.username, c.first_name, c.language) == (None, "", Language.RU)
    c.update_profile(None, "Anna", Language.RU)
    assert (c.username, c.first_name) == (None, "Anna")
