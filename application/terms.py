"""The business terms the use cases run by, read once from configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from domain.errors import InvalidValue
from domain.ids import TelegramId
from domain.money import Money, Percent


@dataclass(frozen=True, slots=True)
class ShopTerms:
    course_title: str
    price: Money
    referral_rate: Percent
    admin_ids: tuple[TelegramId, ...] = ()
    receipts: bool = False
    invite_ttl: timedelta = field(default=timedelta(hours=24))

    def __post_init__(self) -> None:
        if not self.course_title.strip():
            raise InvalidValue("the course needs a title")
        if not self.price.is_positive:
            raise InvalidValue(f"the course price must be above zero, got {self.price}")
        if self.invite_ttl <= timedelta(0):
            raise InvalidValue("an invite link must live for some time")

    def is_admin(self, telegram_id: TelegramId) -> bool:
        return telegram_id in self.admin_ids
