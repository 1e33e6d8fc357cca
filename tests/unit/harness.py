"""The use cases wired to the in-memory fakes: the unit tests' composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender, RecordingNotifier
from adapters.fakes.system import FakeClock, SequentialIds
from adapters.fakes.unit_of_work import InMemoryUnitOfWork, MemoryStore
from application.services.access import AccessIssuer
from application.services.outbox import OutboxWriter
from application.services.payments import PaymentRecorder
from application.terms import ShopTerms
from application.use_cases.ban_user import BanUser
from application.use_cases.check_blacklist import IsBlacklisted
from application.use_cases.confirm_payment import ConfirmPayment
from application.use_cases.deliver_outbox import DeliverOutbox
from application.use_cases.referral_summary import GetReferralSummary
from application.use_cases.register_customer import RegisterCommand, RegisterCustomer
from application.use_cases.start_checkout import CheckoutCommand, StartCheckout
from application.use_cases.unban_user import UnbanUser
from domain.email import Email
from domain.ids import TelegramId
from domain.money import Money, Percent

ADMIN = TelegramId(999)


def default_terms(**overrides: object) -> ShopTerms:
    values: dict[str, object] = {
        "course_title": "Python for course authors",
        "price": Money(499_000),
        "referral_rate": Percent(1000),
        "admin_ids": (ADMIN,),
        "receipts": True,
    }
    values.update(overrides)
    return ShopTerms(**values)  # type: ignore[arg-type]


@dataclass
class Harness:
    terms: ShopTerms = field(default_factory=default_terms)
    store: MemoryStore = field(default_factory=MemoryStore)
    clock: FakeClock = field(default_factory=FakeClock)
    ids: SequentialIds = field(default_factory=SequentialIds)
    gateway: FakePaymentGateway = field(default_factory=FakePaymentGateway)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    email: RecordingEmailSender = field(default_factory=RecordingEmailSender)
    course: FakeCourseAccess = field(default_factory=FakeCourseAccess)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def _outbox(self) -> OutboxWriter:
        return OutboxWriter(self.clock, self.ids)

    def _access(self) -> AccessIssuer:
        return AccessIssuer(self.uow(), self.course, self.clock, self.ids, self.terms)

    def _payments(self) -> PaymentRecorder:
        return PaymentRecorder(self.uow(), self.clock, self.ids, self.terms, self._outbox())

    def register(self) -> RegisterCustomer:
        return RegisterCustomer(self.uow(), self.clock, self.ids)

    def checkout(self) -> StartCheckout:
        return StartCheckout(
            self.uow(), self.gateway, self.course, self._access(), self._payments(), self.clock, self.ids, self.terms
        )

    def confirm(self) -> ConfirmPayment:
        return ConfirmPayment(self.gateway, self._payments())

    def deliver(self) -> DeliverOutbox:
        return DeliverOutbox(self.uow(), self.notifier, self.email, self._access(), self._outbox(), self.clock, self.terms)

    def summary(self) -> GetReferralSummary:
        return GetReferralSummary(self.uow(), self.terms)

    def ban(self) -> BanUser:
        return BanUser(self.uow(), self.course, self.clock)

    def unban(self) -> UnbanUser:
        return UnbanUser(self.uow())

    def is_blacklisted(self) -> IsBlacklisted:
        return IsBlacklisted(self.uow())

    # Shortcuts for the common steps of a journey.
    async def start(self, telegram_id: int, code: str | None = None, name: str = "User", lang: str | None = "ru"):
        return await self.register()(RegisterCommand(TelegramId(telegram_id), f"u{telegram_id}", name, lang, code))

    async def buy(self, telegram_id: int, email: str = "buyer@example.com"):
        return await self.checkout()(CheckoutCommand(TelegramId(telegram_id), Email(email), "https://t.me/aimpay_bot"))

    async def deliver_all(self) -> int:
        total = 0
        while (n := await self.deliver()()) > 0:
            total += n
        return total
