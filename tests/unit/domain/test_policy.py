"""The one access policy: admins are exempt from the blacklist everywhere and alone administer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ids import TelegramId
from domain.policy import AccessPolicy, JoinVerdict
from tests.property.support import deterministic

ADMIN, OTHER = TelegramId(1), TelegramId(2)
POLICY = AccessPolicy([ADMIN])
CUSTOMER_RIGHTS = ("may_use_bot", "may_buy", "may_receive_access", "may_refer", "may_be_credited", "may_be_paid")


@pytest.mark.parametrize("right", CUSTOMER_RIGHTS)
def test_the_blacklist_shuts_a_customer_out_of_everything(right: str) -> None:
    assert getattr(POLICY, right)(POLICY.standing(OTHER, blacklisted=False)) is True
    assert getattr(POLICY, right)(POLICY.standing(OTHER, blacklisted=True)) is False


@pytest.mark.parametrize("right", CUSTOMER_RIGHTS)
def test_an_admin_is_never_shut_out(right: str) -> None:
    assert getattr(POLICY, right)(POLICY.standing(ADMIN, blacklisted=True)) is True


def test_only_admins_administer_and_no_admin_can_be_banned() -> None:
    admin, other = POLICY.standing(ADMIN, blacklisted=False), POLICY.standing(OTHER, blacklisted=False)
    assert POLICY.may_administer(admin) and not POLICY.may_administer(other)
    assert POLICY.may_ban(admin, other)
    assert not POLICY.may_ban(other, other)
    assert not POLICY.may_ban(admin, POLICY.standing(ADMIN, blacklisted=False))
    second_admin = AccessPolicy([ADMIN, OTHER])
    assert not second_admin.may_ban(
        second_admin.standing(ADMIN, blacklisted=False), second_admin.standing(OTHER, blacklisted=False)
    )


@deterministic(200)
@given(st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_course_join_verdicts(admin: bool, blacklisted: bool, owns: bool, paid: bool) -> None:
    who = ADMIN if admin else OTHER
    verdict = POLICY.course_join(POLICY.standing(who, blacklisted=blacklisted), owns_link=owns, has_paid=paid)
    if admin:
        assert verdict is JoinVerdict.ADMIN  # never removed
    elif blacklisted:
        assert verdict is JoinVerdict.STRANGER  # removed even if they paid or own the link
    elif owns:
        assert verdict is JoinVerdict.OWNER
    else:
        assert verdict is (JoinVerdict.OTHER_PAID_CUSTOMER if paid else JoinVerdict.STRANGER)


def test_admin_ids_are_listed_in_a_stable_order() -> None:
    assert AccessPolicy([TelegramId(9), TelegramId(3)]).admin_ids == (TelegramId(3), TelegramId(9))
