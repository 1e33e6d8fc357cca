"""The use cases wired to the in-memory fakes: the unit tests' composition root."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.catalog import MessageCatalog
from adapters.catalog.notices import CatalogNoticeRenderer
from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender, RecordingNotifier
from adapters.fakes.readers import (
    MemoryBlacklistReader,
    MemoryNewcomerRegistry,
    MemoryOutboxReader,
    MemoryReferralReader,
)
from adapters.fakes.system import FakeClock, SequentialIds
from adapters.fakes.unit_of_work import InMemoryUnitOfWork, MemoryState, MemoryStore
from application.bus import MessageBus
from application.delivery import OUTBOX_HANDLERS, OutboxDispatcher
from application.handlers import EVENT_HANDLERS
from application.notices import Notice, decode_notice
from application.ports.messaging import EmailSender, Notifier
from application.ports.readers import BlacklistReader, OutboxReader, ReferralReader
from application.ports.rendering import NoticeRenderer
from application.ports.repositories import NewcomerRegistry
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.services.access import AccessIssuer
from application.services.gatekeeper import Gatekeeper
from application.services.outbox import OutboxWriter
from application.services.payments import PaymentRecorder
from application.terms import ShopTerms
from application.use_cases.ban_user import BanResult, BanUser
from application.use_cases.check_blacklist import MayUseBot
from application.use_cases.confirm_payment import ConfirmPayment
from application.use_cases.deliver_outbox import DeliverOutbox
from application.use_cases.record_course_join import RecordCourseJoin
from application.use_cases.referral_summary import GetReferralSummary
from application.use_cases.register_customer import RegisterCommand, RegisterCustomer
from application.use_cases.start_checkout import CheckoutCommand, StartCheckout
from application.use_cases.unban_user import UnbanUser
from domain.customer import Customer, Language
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.money import Money, Percent
from domain.outbox import OutboxKind, OutboxMessage
from domain.policy import AccessPolicy
from domain.purchase import Purchase
from entrypoints.wiring import build
from tests.integration.sql.snapshot import snapshot

CATALOG = MessageCatalog.load()

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
    # Another storage under the same wiring (the SQL tests pass SqlaUnitOfWork and SQL readers);
    # default: memory.
    uow_factory: Callable[[], UnitOfWork] | None = None
    referral_reader: ReferralReader | None = None
    blacklist_reader: BlacklistReader | None = None
    newcomer_registry: NewcomerRegistry | None = None
    outbox_reader: OutboxReader | None = None
    # The database behind ``uow_factory``, whose committed state ``state()`` reads; None: memory.
    engine: AsyncEngine | None = None

    def uow(self) -> UnitOfWork:
        return self.uow_factory() if self.uow_factory is not None else InMemoryUnitOfWork(self.store)

    @property
    def policy(self) -> AccessPolicy:
        return AccessPolicy(self.terms.admin_ids)

    def _outbox(self) -> OutboxWriter:
        return OutboxWriter(self.clock, self.ids, self.policy)

    def gatekeeper(self) -> Gatekeeper:
        return Gatekeeper(self.policy, self.blacklist_reader or MemoryBlacklistReader(self.store))

    def bus(self) -> MessageBus:
        """The production registry of reactions, built from this harness's parts."""
        parts = {
            OutboxWriter: self._outbox(),
            Clock: self.clock,
            IdGenerator: self.ids,
            ShopTerms: self.terms,
            AccessPolicy: self.policy,
            Gatekeeper: self.gatekeeper(),
        }
        return MessageBus({event: [build(cls, parts) for cls in classes] for event, classes in EVENT_HANDLERS.items()})

    def _access(self) -> AccessIssuer:
        return AccessIssuer(self.uow(), self.course, self.clock, self.ids, self.terms)

    def _payments(self) -> PaymentRecorder:
        return PaymentRecorder(self.uow(), self.clock, self.bus())

    def register(self) -> RegisterCustomer:
        return RegisterCustomer(
            self.uow(),
            self.newcomer_registry or MemoryNewcomerRegistry(self.store),
            self.referral_reader or MemoryReferralReader(self.store),
            self.clock,
            self.ids,
            self.gatekeeper(),
        )

    def checkout(self) -> StartCheckout:
        return StartCheckout(
            self.uow(),
            self.gateway,
            self.course,
            self._access(),
            self._payments(),
            self.clock,
            self.ids,
            self.terms,
            self.gatekeeper(),
            self.bus(),
        )

    def recorder(self) -> PaymentRecorder:
        """Applies a provider's payment as given (a webhook body that was not re-fetched)."""
        return self._payments()

    def confirm(self) -> ConfirmPayment:
        return ConfirmPayment(self.gateway, self._payments())

    def deliver(self, outbox: OutboxWriter | None = None) -> DeliverOutbox:
        uow = self.uow()
        parts = {
            UnitOfWork: uow,
            Notifier: self.notifier,
            EmailSender: self.email,
            NoticeRenderer: CatalogNoticeRenderer(CATALOG),
            AccessIssuer: self._access(),
            Gatekeeper: self.gatekeeper(),
            OutboxWriter: outbox or self._outbox(),
            ShopTerms: self.terms,
        }
        dispatch = OutboxDispatcher({kind: build(cls, parts) for kind, cls in OUTBOX_HANDLERS.items()})
        return DeliverOutbox(uow, dispatch, self.clock, self.outbox_reader or MemoryOutboxReader(self.store))

    def summary(self) -> GetReferralSummary:
        return GetReferralSummary(
            self.referral_reader or MemoryReferralReader(self.store), self.gatekeeper(), self.terms
        )

    def ban(self, actor: TelegramId = ADMIN) -> Callable[[TelegramId], Awaitable[BanResult]]:
        """/ban by ``actor`` (an admin unless told otherwise)."""
        return functools.partial(BanUser(self.uow(), self.course, self.clock, self.gatekeeper()), actor)

    def unban(self, actor: TelegramId = ADMIN) -> Callable[[TelegramId], Awaitable[bool]]:
        return functools.partial(UnbanUser(self.uow(), self.gatekeeper()), actor)

    def may_use_bot(self) -> MayUseBot:
        return MayUseBot(self.gatekeeper())

    def record_join(self) -> RecordCourseJoin:
        return RecordCourseJoin(self.uow(), self.course, self.clock, self.gatekeeper(), self.bus())

    # Shortcuts for the common steps of a journey.
    async def start(self, telegram_id: int, code: str | None = None, name: str = "User", lang: str | None = "ru"):
        return await self.register()(RegisterCommand(TelegramId(telegram_id), f"u{telegram_id}", name, lang, code))

    async def buy(self, telegram_id: int, email: str = "buyer@example.com"):
        return await self.checkout()(CheckoutCommand(TelegramId(telegram_id), Email(email), "https://t.me/aimpay_bot"))

    async def deliver_all(self) -> int:
        total = 0
        while (n := (await self.deliver()()).delivered) > 0:
            total += n
        return total

    # The committed state on any storage (the read-outs below read the memory store only).
    async def state(self) -> MemoryState:
        """The committed state: the memory store's, or the database's read into the same shape."""
        if self.engine is None:
            return self.store.state
        return await snapshot(self.engine)

    async def committed(self) -> Harness:
        """A copy of this harness whose memory store holds the committed state as of now, from
        whatever storage: its read-outs (``customer``, ``purchase``, ``notices_to``, ...) answer
        from that state. For assertions only: run no use case on it."""
        frozen = MemoryStore()
        frozen.state = await self.state()
        return dataclasses.replace(self, store=frozen)

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

    def notices_to(self, telegram_id: int | TelegramId, kind: type[Notice] | None = None) -> list[Notice]:
        """The notices queued for one Telegram user (delivered or not), oldest first."""
        wanted = telegram_id.value if isinstance(telegram_id, TelegramId) else telegram_id
        found = [
            decode_notice(m.payload["notice"])
            for m in self.outbox_messages(OutboxKind.TELEGRAM_NOTICE)
            if m.payload["telegram_id"] == wanted
        ]
        return [n for n in found if kind is None or isinstance(n, kind)]

    def access_grants_queued(self, purchase_id: PurchaseId) -> int:
        """How many times issuing the purchase's link was queued."""
        return sum(
            1 for m in self.outbox_messages(OutboxKind.GRANT_ACCESS) if m.payload["purchase_id"] == str(purchase_id)
        )

    @staticmethod
    def render(language: Language, key: str, **values: object) -> str:
        """A text as the catalog words it."""
        return CATALOG.text(language, key, **values)

    def texts_to(self, telegram_id: int | TelegramId) -> list[str]:
        """What the fake Telegram delivered to one user, oldest first."""
        wanted = telegram_id if isinstance(telegram_id, TelegramId) else TelegramId(telegram_id)
        return [m.text for m in self.notifier.to(wanted)]

    async def pay(self, telegram_id: int, email: str = "buyer@example.com") -> Purchase:
        """/buy, the provider reports success, the webhook is handled; returns the paid purchase."""
        link = await self.buy(telegram_id, email)
        payment_id = self.payment_id_of(link.purchase_id)  # type: ignore[union-attr]
        self.gateway.succeed(payment_id)
        await self.confirm()(payment_id)
        return self.purchase(link.purchase_id)  # type: ignore[union-attr]
