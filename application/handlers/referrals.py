"""The referral program's reactions: a sale credits the buyer's referrer, who is told."""

from __future__ import annotations

from collections.abc import Iterable

from application.notices import ReferrerCredited
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.services.gatekeeper import Gatekeeper
from application.services.outbox import OutboxWriter
from application.terms import ShopTerms
from domain.events import DomainEvent, PurchasePaid, ReferralCredited
from domain.ids import LedgerEntryId
from domain.ledger import referral_credit
from domain.outbox import referrer_credit_notice_key


class CreditReferrer:
    """Books the referrer's commission (``ShopTerms.referral_rate`` of the price, rounded down)
    when the policy lets them earn; the ledger's unique key makes a second booking impossible."""

    def __init__(self, clock: Clock, ids: IdGenerator, terms: ShopTerms, gatekeeper: Gatekeeper) -> None:
        self._clock = clock
        self._ids = ids
        self._terms = terms
        self._gatekeeper = gatekeeper

    async def __call__(self, event: PurchasePaid, uow: UnitOfWork) -> Iterable[DomainEvent]:
        buyer = await uow.customers.get(event.customer_id)
        if buyer is None or buyer.referrer_id is None:
            return ()
        referrer = await uow.customers.get(buyer.referrer_id)
        if referrer is None:
            return ()
        if not self._gatekeeper.policy.may_be_credited(await self._gatekeeper.standing_in(uow, referrer.telegram_id)):
            return ()
        purchase = await uow.purchases.get(event.purchase_id)
        if purchase is None:
            return ()
        entry = referral_credit(
            LedgerEntryId(self._ids.new_uuid()), referrer.id, purchase, self._terms.referral_rate, self._clock.now()
        )
        if entry is None or not await uow.ledger.append(entry):
            return ()
        return (ReferralCredited(entry.id, referrer.id, event.purchase_id, entry.amount),)


class TellReferrerOfCredit:
    def __init__(self, outbox: OutboxWriter) -> None:
        self._outbox = outbox

    async def __call__(self, event: ReferralCredited, uow: UnitOfWork) -> Iterable[DomainEvent]:
        referrer = await uow.customers.get(event.referrer_id)
        if referrer is None:
            return ()
        balance = await uow.ledger.balance(referrer.id, event.amount.currency)
        notice = ReferrerCredited(amount=event.amount, balance=balance)
        message = self._outbox.telegram_notice(
            referrer_credit_notice_key(event.purchase_id), referrer.telegram_id, referrer.language, notice
        )
        await self._outbox.put(uow, message)
        return ()
