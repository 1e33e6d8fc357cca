from hypothesis import given
from hypothesis import strategies as st

from domain.email import Email
from domain.errors import InvalidValue
from domain.ids import ReferralCode, TelegramId
from domain.money import Currency, Money, Percent
from tests.property.support import deterministic

LIMIT = 10**15 - 1  # the largest amount the wire form ("13 digits.2 digits") can carry
minors = st.integers(min_value=-LIMIT, max_value=LIMIT)
amounts = st.builds(Money, minors)
non_negative = st.builds(Money, st.integers(min_value=0, max_value=LIMIT))
percents = st.builds(Percent, st.integers(min_value=0, max_value=10_000))


@deterministic(300)
@given(amounts)
def test_parse_reads_back_the_wire_form(m: Money) -> None:
    assert Money.parse(m.to_decimal_string()) == m


@deterministic(300)
@given(non_negative, percents)
def test_share_is_the_floor_and_never_exceeds_the_amount(m: Money, rate: Percent) -> None:
    share = m.share(rate)
    assert Money(0) <= share <= m
    assert share.minor * 10_000 <= m.minor * rate.basis_points < (share.minor + 1) * 10_000


@deterministic(300)
@given(non_negative, percents, percents)
def test_share_is_monotone_in_the_rate(m: Money, a: Percent, b: Percent) -> None:
    low, high = sorted((a, b), key=lambda p: p.basis_points)
    assert m.share(low) <= m.share(high)


@deterministic(300)
@given(amounts, amounts)
def test_add_then_subtract_is_identity(a: Money, b: Money) -> None:
    assert a + b - b == a
    assert a + b == b + a
    assert a - b == -(b - a)


@deterministic(200)
@given(percents)
def test_percent_str_reads_back(p: Percent) -> None:
    assert Percent.parse(str(p).removesuffix("%")) == p


@deterministic(300)
@given(st.text(max_size=20))
def test_parsers_either_accept_or_refuse_with_invalid_value(text: str) -> None:
    """Anything typed by a user or sent by a provider: a value or ``InvalidValue``, never another error."""
    for parse in (Money.parse, Percent.parse, TelegramId.parse, Email.parse, ReferralCode, Currency):
        try:
            parse(text)  # type: ignore[operator]
        except InvalidValue:
            pass


@deterministic(200)
@given(st.from_regex(r"-?[0-9]{1,13}(\.[0-9]{1,2})?", fullmatch=True))
def test_every_well_formed_amount_parses(text: str) -> None:
    whole, _, frac = text.lstrip("-").partition(".")
    expected = int(whole) * 100 + int(frac.ljust(2, "0") or 0)
    assert Money.parse(text).minor == (-expected if text.startswith("-") else expected)
