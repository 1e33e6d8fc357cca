"""The use cases wired to the in-memory fakes: the unit tests' composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender, RecordingNotifier
from adapters.fakes.system import FakeClock, SequentialIds
from adapters.fakes.unit_of_work import InMemoryUnitOfWork, MemoryStore
from application.ports.unit_of_work import UnitOfWork
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
from domain.customer import Customer
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.money import Money, Percent
from domain.outbox import OutboxKind, OutboxMessage
from domain.purchase import Purchase

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
    # Another storage under the same wiring (the SQL tests pass SqlaUnitOfWork); default: memory.
    uow_factory: Callable[[], UnitOfWork] | None = None

    def uow(self) -> UnitOfWork:
        return self.uow_factory() if self.uow_factory is not None else InMemoryUnitOfWork(self.store)

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

    def recorder(self) -> PaymentRecorder:
        """Applies a provider's payment as given (a webhook body that was not re-fetched)."""
        return self._payments()

    def confirm(self) -> ConfirmPayment:
        return ConfirmPayment(self.gateway, self._payments())

    def deliver(self) -> DeliverOutbox:
        return DeliverOutbox(
            self.uow(), self.notifier, self.email, self._access(), self._outbox(), self.clock, self.terms
        )

    def summary(self) -> GetReferralSummary:
        return GetReferralSummary(self.uow(), self.terms)

    def ban(self) -> BanUser:
        return BanUser(self.uow(), self.course, self.clock, self.terms)

    def unban(self) -> UnbanUser:
        return UnbanUser(self.uow())

    def is_blacklisted(self) -> IsBlacklisted:
        return IsBlacklisted(self.uow(), self.terms)

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

    # Read-outs of the committed state, for assertions.
    def customer(self, telegram_id: int) -> Customer:
        return next(c for c in self.store.state.customers.values() if c.telegram_id == TelegramId(telegram_id))

    def purchases_of(self, telegram_id: int) -> list[Purchase]:
        """The customer's purchases, oldest first."""
        customer_id = self.customer(telegram_id).id
        return [p for p in self.store.state.purchases.values() if p.customer_id == customer_id]

    def purchase(self, purchase_id: PurchaseId) -> Purchase:
        return self.store.state.purchases[purchase_id]

    def payment_id_of(self, purchase_id: PurchaseId) -> str:
        """The provider's payment made for the purchase."""
        return next(pid for pid, request in self.gateway.requests.items() if request.purchase_id == purchase_id)

    def outbox_messages(self, kind: OutboxKind | None = None) -> list[OutboxMessage]:
        return [m for m in self.store.state.outbox.values() if kind is None or m.kind is kind]

    async def pay(self, telegram_id: int, email: str = "buyer@example.com") -> Purchase:
        """/buy, the provider reports success, the webhook is handled; returns the paid purchase."""
        link = await self.buy(telegram_id, email)
        payment_id = self.payment_id_of(link.purchase_id)  # type: ignore[union-attr]
        self.gateway.succeed(payment_id)
        await self.confirm()(payment_id)
        return self.purchase(link.purchase_id)  # type: ignore[union-attr]
