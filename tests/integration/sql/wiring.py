"""The real use cases on a real database, with the fakes of the outside world: what the
production container builds, minus Telegram, YooKassa and Resend."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender, RecordingNotifier
from adapters.sql.unit_of_work import SqlaUnitOfWork
from adapters.system import RandomIdGenerator, UtcClock
from application.services.access import AccessIssuer
from application.services.outbox import OutboxWriter
from application.services.payments import PaymentRecorder
from application.terms import ShopTerms
from application.use_cases.confirm_payment import ConfirmPayment
from application.use_cases.deliver_outbox import DeliverOutbox
from application.use_cases.register_customer import RegisterCustomer
from application.use_cases.start_checkout import StartCheckout
from domain.ids import TelegramId
from domain.money import Money, Percent

ADMIN = TelegramId(990_001)


def shop_terms() -> ShopTerms:
    return ShopTerms(
        course_title="Python for course authors",
        price=Money(499_000),
        referral_rate=Percent(1000),  # 10 %
        admin_ids=(ADMIN,),
        receipts=True,
    )


@dataclass
class SqlWiring:
    """Every call builds the use case afresh on new units of work, as a request scope would:
    use cases built here may run concurrently."""

    sessions: async_sessionmaker[AsyncSession]
    terms: ShopTerms = field(default_factory=shop_terms)
    clock: UtcClock = field(default_factory=UtcClock)
    ids: RandomIdGenerator = field(default_factory=RandomIdGenerator)
    gateway: FakePaymentGateway = field(default_factory=FakePaymentGateway)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    email: RecordingEmailSender = field(default_factory=RecordingEmailSender)
    course: FakeCourseAccess = field(default_factory=FakeCourseAccess)

    def uow(self) -> SqlaUnitOfWork:
        return SqlaUnitOfWork(self.sessions)

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
        return DeliverOutbox(
            self.uow(), self.notifier, self.email, self._access(), self._outbox(), self.clock, self.terms
        )
