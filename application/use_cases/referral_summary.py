from __future__ import annotations

from dataclasses import dataclass

from application.errors import CustomerNotRegistered
from application.ports.unit_of_work import UnitOfWork
from application.terms import ShopTerms
from domain.ids import ReferralCode, TelegramId
from domain.money import Money, Percent


@dataclass(frozen=True, slots=True)
class ReferralSummary:
    code: ReferralCode
    joined: int
    paid: int
    balance: Money
    rate: Percent


class GetReferralSummary:
    """/ref: the customer's referral code, how many joined by it, how many paid, the balance."""

    def __init__(self, uow: UnitOfWork, terms: ShopTerms) -> None:
        self._uow = uow
        self._terms = terms

    async def __call__(self, telegram_id: TelegramId) -> ReferralSummary:
        async with self._uow as uow:
            customer = await uow.customers.by_telegram_id(telegram_id)
            if customer is None:
                raise CustomerNotRegistered(str(telegram_id))
            return ReferralSummary(
                code=customer.referral_code,
                joined=await uow.customers.count_referred(customer.id),
                paid=await uow.purchases.count_paid_referred(customer.id),
                balance=await uow.ledger.balance(customer.id, self._terms.price.currency),
                rate=self._terms.referral_rate,
            )
