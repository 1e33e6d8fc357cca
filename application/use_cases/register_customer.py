from __future__ import annotations

from dataclasses import dataclass

from application.errors import CustomerBlacklisted
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import ConcurrencyConflict, UnitOfWork
from application.services.gatekeeper import Gatekeeper
from application.services.retry import retry_on_conflict
from domain.customer import AttributionRefused, Customer, Language, ReferralChain, attribute
from domain.errors import InvalidValue
from domain.ids import CustomerId, ReferralCode, TelegramId


@dataclass(frozen=True, slots=True)
class RegisterCommand:
    telegram_id: TelegramId
    username: str | None
    first_name: str
    language_code: str | None
    referral_code: str | None = None  # the /start payload, as typed: anything may arrive


@dataclass(frozen=True, slots=True)
class Registration:
    customer: Customer
    is_new: bool
    attributed: bool  # this call attributed the customer to a referrer
    refused: AttributionRefused | None = None


class RegisterCustomer:
    """/start: registers the Telegram user (or refreshes their profile) and, first touch wins,
    attributes them to the referrer whose code they came with. Bad codes are ignored silently."""

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator, gatekeeper: Gatekeeper) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._gatekeeper = gatekeeper

    async def __call__(self, command: RegisterCommand) -> Registration:
        return await retry_on_conflict(lambda: self._register(command))

    async def _register(self, command: RegisterCommand) -> Registration:
        policy = self._gatekeeper.policy
        if not policy.may_use_bot(await self._gatekeeper.standing(command.telegram_id)):
            raise CustomerBlacklisted(str(command.telegram_id))
        language = Language.from_telegram(command.language_code)
        now = self._clock.now()
        async with self._uow as uow:
            # Most /start come from newcomers: one INSERT (after finding the referrer, when a code came).
            customer = Customer(
                id=CustomerId(self._ids.new_uuid()),
                telegram_id=command.telegram_id,
                referral_code=ReferralCode(self._ids.referral_code()),
                registered_at=now,
                username=command.username,
                first_name=command.first_name,
                language=language,
            )
            refused = await self._attribute(uow, customer, command.referral_code, newcomer=True)
            if await uow.customers.add_if_absent(customer):
                await uow.commit()
                return Registration(customer, is_new=True, attributed=customer.referrer_id is not None, refused=refused)
            # Known already: their profile is refreshed and, first touch wins, they may be attributed now.
            known = await uow.customers.by_telegram_id(command.telegram_id, for_update=True)
            if known is None:  # the row that won the race is gone again: start over
                raise ConcurrencyConflict(f"customer {command.telegram_id} vanished")
            known.update_profile(command.username, command.first_name, language)
            referrer_before = known.referrer_id
            refused = await self._attribute(uow, known, command.referral_code, newcomer=False)
            await uow.customers.save(known)
            await uow.commit()
        return Registration(known, is_new=False, attributed=known.referrer_id != referrer_before, refused=refused)

    async def _attribute(
        self, uow: UnitOfWork, customer: Customer, raw_code: str | None, *, newcomer: bool
    ) -> AttributionRefused | None:
        """``newcomer``: ``customer`` is not stored yet, so nobody descends from them (no cycle is
        possible) and they have paid for nothing: their chain and purchases need no query."""
        if not raw_code:
            return None
        try:
            code = ReferralCode(raw_code)
        except InvalidValue:
            return None
        referrer = await uow.customers.by_referral_code(code)
        if referrer is None:
            return None
        chain = ReferralChain(() if newcomer else await uow.customers.referral_chain(referrer.id))
        referrer_standing = await self._gatekeeper.standing(referrer.telegram_id)
        return attribute(
            customer,
            referrer,
            chain,
            referrer_may_refer=self._gatekeeper.policy.may_refer(referrer_standing),
            customer_has_paid=not newcomer and await uow.purchases.paid_for(customer.id) is not None,
            at=self._clock.now(),
        )
