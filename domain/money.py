"""Money as an integer number of minor units (kopecks) and a currency. Never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from domain.errors import InvalidValue

_CODE = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"-?[0-9]{1,13}(\.[0-9]{1,2})?")  # ASCII digits only, used with fullmatch


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 code; every currency we take has two decimal places."""

    code: str

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE.fullmatch(self.code):
            raise InvalidValue(f"currency must be three capital letters, got {self.code!r}")

    def __str__(self) -> str:
        return self.code


RUB = Currency("RUB")


@dataclass(frozen=True, slots=True)
class Money:
    """``minor`` kopecks (cents) of ``currency``; may be negative (a debit in a ledger)."""

    minor: int
    currency: Currency = RUB

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidValue(f"money is an integer number of minor units, got {self.minor!r}")
        if not isinstance(self.currency, Currency):
            raise InvalidValue(f"money needs a Currency, got {self.currency!r}")

    @classmethod
    def zero(cls, currency: Currency = RUB) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: Currency = RUB) -> Money:
        """``"4990.00"`` / ``"4990"`` / ``"4990.5"`` → Money; refuses anything else (no floats, no commas)."""
        text = text.strip() if isinstance(text, str) else text
        if not isinstance(text, str) or not _AMOUNT.fullmatch(text):
            raise InvalidValue(f"an amount looks like 4990.00, got {text!r}")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the regex already refuses these
            raise InvalidValue(f"an amount looks like 4990.00, got {text!r}") from exc
        return cls(int(value * 100), currency)

    def to_decimal_string(self) -> str:
        """The wire form YooKassa uses: ``"4990.00"``."""
        sign = "-" if self.minor < 0 else ""
        whole, cents = divmod(abs(self.minor), 100)
        return f"{sign}{whole}.{cents:02d}"

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise InvalidValue(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    def share(self, rate: Percent) -> Money:
        """``rate`` of this amount, rounded **down** to the kopeck (the school never pays out a
        fraction of a kopeck it did not receive)."""
        return Money((self.minor * rate.basis_points) // 10_000, self.currency)

    def __str__(self) -> str:
        return f"{self.to_decimal_string()} {self.currency}"


@dataclass(frozen=True, slots=True)
class Percent:
    """A rate in basis points (1/100 of a percent): ``Percent.parse("12.5")`` is 1250 bp."""

    basis_points: int

    def __post_init__(self) -> None:
        if isinstance(self.basis_points, bool) or not isinstance(self.basis_points, int):
            raise InvalidValue(f"a percent is an integer number of basis points, got {self.basis_points!r}")
        if not 0 <= self.basis_points <= 10_000:
            raise InvalidValue(f"a percent is between 0 and 100, got {self.basis_points / 100}")

    @classmethod
    def parse(cls, text: str) -> Percent:
        text = text.strip() if isinstance(text, str) else text
        if not isinstance(text, str) or not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,2})?", text):
            raise InvalidValue(f"a percent looks like 10 or 12.5, got {text!r}")
        value = Decimal(text) * 100
        return cls(int(value.to_integral_value(rounding=ROUND_FLOOR)))

    def __str__(self) -> str:
        whole, frac = divmod(self.basis_points, 100)
        return f"{whole}%" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "%"
