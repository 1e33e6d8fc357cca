"""A customer: a Telegram user who started the bot, and who may have been referred by another."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import InvalidValue
from domain.ids import CustomerId, ReferralCode, TelegramId


class Language(enum.StrEnum):
    RU = "ru"
    EN = "en"

    @classmethod
    def from_telegram(cls, language_code: str | None) -> Language:
        """English for users whose Telegram language is English, Russian for everybody else."""
        return cls.EN if (language_code or "").lower().split("-")[0] == "en" else cls.RU


@dataclass(slots=True)
class Customer:
    id: CustomerId
    telegram_id: TelegramId
    referral_code: ReferralCode
    registered_at: datetime
    username: str | None = None
    first_name: str = ""
    language: Language = Language.RU
    referrer_id: CustomerId | None = None
    referred_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.registered_at.tzinfo is None:
            raise InvalidValue("registered_at must carry a time zone")
        self.first_name = (self.first_name or "")[:128]
        if self.username is not None:
            self.username = self.username[:64] or None

    @property
    def display_name(self) -> str:
        """How a customer is named to the shop's admins: first name and @username."""
        return self.first_name + (f" @{self.username}" if self.username else "")

    def update_profile(self, username: str | None, first_name: str, language: Language) -> None:
        self.username = (username or None) and username[:64]
        self.first_name = (first_name or "")[:128]
        self.language = language


class AttributionRefused(enum.StrEnum):
    ALREADY_ATTRIBUTED = "already_attributed"
    SELF_REFERRAL = "self_referral"
    CYCLE = "cycle"
    REFERRER_NOT_ALLOWED = "referrer_not_allowed"  # the access policy shuts the referrer out
    ALREADY_PAID = "already_paid"


@dataclass(frozen=True, slots=True)
class ReferralChain:
    """The referrer's own ancestry, nearest first: who referred the referrer, who referred them, ..."""

    ancestors: tuple[CustomerId, ...] = field(default_factory=tuple)


def attribute(
    customer: Customer,
    referrer: CustomerId,
    referrer_chain: ReferralChain,
    *,
    referrer_may_refer: bool,
    customer_has_paid: bool,
    at: datetime,
) -> AttributionRefused | None:
    """First touch wins: attributes ``customer`` to ``referrer`` unless a rule forbids it.

    Returns ``None`` when the attribution was made, else the reason it was refused (and the
    customer is left unchanged). A customer who has already paid is never attributed after the
    fact, so no referrer is credited for a sale they did not bring. ``referrer_may_refer`` is the
    access policy's word on the referrer (``AccessPolicy.may_refer``).
    """
    if customer.referrer_id is not None:
        return AttributionRefused.ALREADY_ATTRIBUTED
    if referrer == customer.id:
        return AttributionRefused.SELF_REFERRAL
    if customer.id in referrer_chain.ancestors:
        return AttributionRefused.CYCLE
    if not referrer_may_refer:
        return AttributionRefused.REFERRER_NOT_ALLOWED
    if customer_has_paid:
        return AttributionRefused.ALREADY_PAID
    customer.referrer_id = referrer
    customer.referred_at = at
    return None
