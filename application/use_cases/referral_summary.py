from __future__ import annotations

from dataclasses import dataclass

from application.errors import CustomerBlacklisted, CustomerNotRegistered
from application.ports.readers import ReferralReader
from application.services.gatekeeper import Gatekeeper
from application.terms import ShopTerms
from domain.ids import ReferralCode, TelegramId
from domain.money import Money, Percent


@dataclass(frozen=True, slots=True)
class ReferralSummary:
    code: ReferralCode
    invited: int
    paid: int
    balance: Money
    rate: Percent


class GetReferralSummary:
    """/ref: the customer's referral code, how many joined by it, how many paid, the balance."""

    def __init__(self, referrals: ReferralReader, gatekeeper: Gatekeeper, terms: ShopTerms) -> None:
        self._referrals = referrals
        self._gatekeeper = gatekeeper
        self._terms = terms

    async def __call__(self, telegram_id: TelegramId) -> ReferralSummary:
        if not self._gatekeeper.policy.may_use_bot(await self._gatekeeper.standing(telegram_id)):
            raise CustomerBlacklisted(str(telegram_id))
        stats = await self._referrals.referral_stats(telegram_id, self._terms.price.currency)
        if stats is None:
            raise CustomerNotRegistered(str(telegram_id))
        return ReferralSummary(stats.code, stats.invited, stats.paid, stats.balance, self._terms.referral_rate)
