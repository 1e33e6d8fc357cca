from __future__ import annotations

from dataclasses import dataclass

from application.errors import CustomerBlacklisted
from application.ports.readers import ReferralReader
from application.ports.repositories import NewcomerRegistry
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
    attributes them to the referrer whose code they came with. Bad codes are ignored silently.

    A newcomer (most /start) is one atomic statement (``NewcomerRegistry``), the referrer found
    through a reader; somebody known already is updated in a transaction."""

    def __init__(
        self,
        uow: UnitOfWork,
        newcomers: NewcomerRegistry,
        referrals: ReferralReader,
        clock: Clock,
        ids: IdGenerator,
        gatekeeper: Gatekeeper,
    ) -> None:
        self._uow = uow
        self._newcomers = newcomers
        self._referrals = referrals
        self._clock = clock
        self._ids = ids
        self._gatekeeper = gatekeeper

    async def __call__(self, command: RegisterCommand) -> Registration:
        return await retry_on_conflict(lambda: self._register(command))

    async def _register(self, command: RegisterCommand) -> Registration:
        if not self._gatekeeper.policy.may_use_bot(await self._gatekeeper.standing(command.telegram_id)):
            raise CustomerBlacklisted(str(command.telegram_id))
        language = Language.from_telegram(command.language_code)
        customer = Customer(
            id=CustomerId(self._ids.new_uuid()),
            telegram_id=command.telegram_id,
            referral_code=ReferralCode(self._ids.referral_code()),
            registered_at=self._clock.now(),
            username=command.username,
            first_name=command.first_name,
            language=language,
        )
        # A newcomer is nobody's referrer yet (no cycle is possible) and has paid for nothing.
        refused = await self._attribute(customer, command.referral_code, chain=(), has_paid=False)
        if await self._newcomers.add_if_absent(customer):
            return Registration(customer, is_new=True, attributed=customer.referrer_id is not None, refused=refused)
        return await self._known(command, language)

    async def _known(self, command: RegisterCommand, language: Language) -> Registration:
        """Known already: the profile is refreshed and, first touch wins, they may be attributed
        now; their row is locked meanwhile."""
        async with self._uow as uow:
            known = await uow.customers.by_telegram_id(command.telegram_id, for_update=True)
            if known is None:  # the row that won the race is gone again: start over
                raise ConcurrencyConflict(f"customer {command.telegram_id} vanished")
            known.update_profile(command.username, command.first_name, language)
            before = known.referrer_id
            refused = None
            if command.referral_code:
                open_to_it = before is None  # else first touch has won already: no query needed
                chain = await self._chain_of_referrer(uow, command.referral_code) if open_to_it else ()
                has_paid = open_to_it and await uow.purchases.paid_for(known.id) is not None
                refused = await self._attribute(known, command.referral_code, chain=chain, has_paid=has_paid)
            await uow.customers.save(known)
            await uow.commit()
        return Registration(known, is_new=False, attributed=known.referrer_id != before, refused=refused)

    async def _chain_of_referrer(self, uow: UnitOfWork, raw_code: str) -> tuple[CustomerId, ...]:
        code = _code(raw_code)
        referrer = await self._referrals.referrer(code) if code is not None else None
        return await uow.customers.referral_chain(referrer.customer_id) if referrer is not None else ()

    async def _attribute(
        self, customer: Customer, raw_code: str | None, *, chain: tuple[CustomerId, ...], has_paid: bool
    ) -> AttributionRefused | None:
        code = _code(raw_code)
        if code is None:
            return None
        referrer = await self._referrals.referrer(code)
        if referrer is None:
            return None
        standing = await self._gatekeeper.standing(referrer.telegram_id)
        return attribute(
            customer,
            referrer.customer_id,
            ReferralChain(chain),
            referrer_may_refer=self._gatekeeper.policy.may_refer(standing),
            customer_has_paid=has_paid,
            at=self._clock.now(),
        )


def _code(raw: str | None) -> ReferralCode | None:
    if not raw:
        return None
    try:
        return ReferralCode(raw)
    except InvalidValue:
        return None
