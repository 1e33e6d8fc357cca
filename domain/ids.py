"""Typed identifiers: a purchase id can never be passed where a customer id is expected."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Self
from uuid import UUID

from domain.errors import InvalidValue


@dataclass(frozen=True, slots=True)
class _UuidId:
    value: UUID

    def __post_init__(self) -> None:
        if not isinstance(self.value, UUID):
            raise InvalidValue(f"{type(self).__name__} needs a UUID, got {self.value!r}")

    @classmethod
    def parse(cls, text: str) -> Self:
        try:
            return cls(UUID(str(text)))
        except (ValueError, AttributeError, TypeError) as exc:
            raise InvalidValue(f"{cls.__name__} is a UUID, got {text!r}") from exc

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class CustomerId(_UuidId):
    pass


@dataclass(frozen=True, slots=True)
class PurchaseId(_UuidId):
    pass


@dataclass(frozen=True, slots=True)
class LedgerEntryId(_UuidId):
    pass


@dataclass(frozen=True, slots=True)
class AccessGrantId(_UuidId):
    pass


@dataclass(frozen=True, slots=True)
class OutboxMessageId(_UuidId):
    pass


@dataclass(frozen=True, slots=True)
class TelegramId:
    """A Telegram user id: a positive integer below 2**52 (Telegram's documented bound)."""

    value: int

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int) or not 0 < self.value < 2**52:
            raise InvalidValue(f"a Telegram user id is a positive integer, got {self.value!r}")

    @classmethod
    def parse(cls, text: str) -> TelegramId:
        text = text.strip() if isinstance(text, str) else text
        if not isinstance(text, str) or not (text.isascii() and text.isdigit()):
            raise InvalidValue(f"a Telegram user id is a positive integer, got {text!r}")
        return cls(int(text))

    def __str__(self) -> str:
        return str(self.value)


_CODE = re.compile(r"^[A-Za-z0-9_-]{6,32}$")


@dataclass(frozen=True, slots=True)
class ReferralCode:
    """What follows ``?start=`` in a referral link; Telegram allows ``A-Za-z0-9_-`` there."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _CODE.fullmatch(self.value):
            raise InvalidValue(f"a referral code is 6-32 characters of A-Z a-z 0-9 _ -, got {self.value!r}")

    def __str__(self) -> str:
        return self.value
