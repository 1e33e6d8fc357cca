from decimal import Decimal

import pytest

from domain.errors import InvalidValue
from domain.money import RUB, Currency, Money, Percent

USD = Currency("USD")


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("4990.00", 499_000),
        ("4990", 499_000),
        ("4990.5", 499_050),
        ("0.01", 1),
        ("0", 0),
        ("  12.34 ", 1234),
        ("-0.50", -50),
        ("9999999999999.99", 999_999_999_999_999),
    ],
)
def test_parse_accepts_plain_decimal_amounts(text: str, minor: int) -> None:
    assert Money.parse(text) == Money(minor, RUB)


def test_parse_keeps_the_given_currency() -> None:
    assert Money.parse("1.00", USD) == Money(100, USD)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "-",
        ".",
        "4 990",
        "4 990.00",
        "1e3",
        "4990.001",
        "4,990.00",
        "4990,00",
        "+4990",
        "4990.",
        ".50",
        "NaN",
        "Infinity",
        "0x10",
        "12345678901234",
        "٤٩٩٠",
        "4990\n1",
        "4990.00 RUB",
    ],
)
def test_parse_refuses_anything_but_a_plain_decimal(bad: str) -> None:
    with pytest.raises(InvalidValue):
        Money.parse(bad)


@pytest.mark.parametrize("bad", [4990.0, 4990, True, None, Decimal("4990.00"), b"4990"])
def test_parse_refuses_non_strings(bad: object) -> None:
    with pytest.raises(InvalidValue):
        Money.parse(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [1.5, 100.0, True, False, "100", Decimal(1), None])
def test_money_holds_only_integer_minor_units(bad: object) -> None:
    with pytest.raises(InvalidValue):
        Money(bad)  # type: ignore[arg-type]


def test_money_needs_a_currency_object() -> None:
    with pytest.raises(InvalidValue):
        Money(100, "RUB")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "text"),
    [
        (499_000, "4990.00"),
        (499_050, "4990.50"),
        (1, "0.01"),
        (0, "0.00"),
        (-1, "-0.01"),
        (-12_345, "-123.45"),
        (-100, "-1.00"),
    ],
)
def test_to_decimal_string(minor: int, text: str) -> None:
    assert Money(minor).to_decimal_string() == text


def test_str_names_the_currency() -> None:
    assert str(Money(499_000)) == "4990.00 RUB"


def test_arithmetic_and_comparison_in_one_currency() -> None:
    a, b = Money(1000), Money(250)
    assert a + b == Money(1250)
    assert a - b == Money(750)
    assert b - a == Money(-750)
    assert -a == Money(-1000)
    assert b < a and b <= a and a <= a and not a < a
    assert a > b  # reflected from __lt__
    assert Money.zero() == Money(0, RUB)
    assert Money(1).is_positive and not Money(0).is_positive and not Money(-1).is_positive


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a < b, lambda a, b: a <= b])
def test_arithmetic_refuses_mixed_currencies(op) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValue):
        op(Money(100, RUB), Money(100, USD))


def test_arithmetic_refuses_plain_numbers() -> None:
    with pytest.raises(TypeError):
        Money(100) + 1  # type: ignore[operator]


def test_same_amount_in_other_currency_is_not_equal() -> None:
    assert Money(100, RUB) != Money(100, USD)


@pytest.mark.parametrize(
    ("minor", "bp", "expected"),
    [
        (499_000, 1000, 49_900),
        (999, 1000, 99),  # 99.9 rounds down
        (1, 1000, 0),
        (9, 1000, 0),
        (10, 1000, 1),
        (333, 3333, 110),  # 110.9889
        (499_000, 10_000, 499_000),
        (499_000, 0, 0),
        (12_345, 1250, 1543),  # 1543.125
    ],
)
def test_share_rounds_down_to_the_kopeck(minor: int, bp: int, expected: int) -> None:
    assert Money(minor).share(Percent(bp)) == Money(expected)


def test_share_keeps_the_currency() -> None:
    assert Money(1000, USD).share(Percent(5000)) == Money(500, USD)


@pytest.mark.parametrize(
    ("text", "bp"), [("10", 1000), ("12.5", 1250), ("0", 0), ("100", 10_000), ("0.01", 1), (" 7.25 ", 725)]
)
def test_percent_parse(text: str, bp: int) -> None:
    assert Percent.parse(text) == Percent(bp)


@pytest.mark.parametrize("bad", ["", "-1", "100.01", "101", "12.345", "1e1", "10%", "10,5", "١٠", "abc"])
def test_percent_parse_refuses(bad: str) -> None:
    with pytest.raises(InvalidValue):
        Percent.parse(bad)


@pytest.mark.parametrize("bad", [-1, 10_001, 10.0, True, "1000"])
def test_percent_refuses_bad_basis_points(bad: object) -> None:
    with pytest.raises(InvalidValue):
        Percent(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bp", "text"), [(1000, "10%"), (1250, "12.5%"), (1205, "12.05%"), (5, "0.05%"), (0, "0%"), (10_000, "100%")]
)
def test_percent_str(bp: int, text: str) -> None:
    assert str(Percent(bp)) == text
    assert Percent.parse(text.rstrip("%")) == Percent(bp)


def test_currency() -> None:
    assert str(Currency("EUR")) == "EUR"
    assert Currency("RUB") == RUB


@pytest.mark.parametrize("bad", ["rub", "RU", "RUBL", "", "R1B", "RUB\n", " RUB", 643, None])
def test_currency_refuses(bad: object) -> None:
    with pytest.raises(InvalidValue):
        Currency(bad)  # type: ignore[arg-type]
