"""The composition root: the one place where ports meet their adapters.

``make_container(settings)`` wires the adapters the settings choose: YooKassa or the sandbox's
in-memory payments (``AIMPAY_PAYMENTS``), Resend or the log (``AIMPAY_EMAIL``), the course chat
in Telegram or, in the sandbox without ``AIMPAY_COURSE_CHAT_ID``, the sandbox's pages.
``make_container(settings, offline=True)`` (the offline harness behind ``aimpay demo``) swaps
YooKassa, Resend and Telegram for the in-memory fakes and keeps everything else real: SQLite,
migrations, use cases, bot, HTTP app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import NewType

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from dishka import STRICT_VALIDATION, AnyOf, AsyncContainer, Provider, Scope, make_async_container, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.catalog import MessageCatalog
from adapters.catalog.notices import CatalogNoticeRenderer
from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender, RecordingNotifier
from adapters.resend.sender import ResendEmailSender
from adapters.sandbox import LogEmailSender, SandboxCourseAccess, SandboxPaymentGateway
from adapters.sql.engine import create_engine
from adapters.sql.readers import SqlBlacklistReader, SqlOutboxReader, SqlPurchaseStatsReader, SqlReferralReader
from adapters.sql.repositories import SqlNewcomerRegistry
from adapters.sql.unit_of_work import SqlaUnitOfWork
from adapters.system import RandomIdGenerator, UtcClock
from adapters.telegram import TelegramCourseAccess, TelegramNotifier, TelegramPacer, make_pacer
from adapters.yookassa.gateway import YooKassaPaymentGateway
from application.bus import EventHandler, MessageBus
from application.delivery import OUTBOX_HANDLERS, OutboxDispatcher, OutboxHandler
from application.handlers import EVENT_HANDLERS, handler_classes
from application.ports.messaging import CourseAccess, EmailSender, Notifier
from application.ports.payment_gateway import PaymentGateway
from application.ports.readers import BlacklistReader, OutboxReader, PurchaseStatsReader, ReferralReader
from application.ports.rendering import NoticeRenderer
from application.ports.repositories import NewcomerRegistry
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.services.access import AccessIssuer
from application.services.gatekeeper import Gatekeeper
from application.services.outbox import OutboxWriter
from application.services.payments import PaymentRecorder
from application.terms import ShopTerms
from application.use_cases.ban_user import BanUser
from application.use_cases.check_blacklist import MayUseBot
from application.use_cases.confirm_payment import ConfirmPayment
from application.use_cases.deliver_outbox import DeliverOutbox
from application.use_cases.record_course_join import RecordCourseJoin
from application.use_cases.referral_summary import GetReferralSummary
from application.use_cases.register_customer import RegisterCustomer
from application.use_cases.start_checkout import StartCheckout
from application.use_cases.unban_user import UnbanUser
from domain.outbox import OutboxKind
from domain.policy import AccessPolicy
from entrypoints.config import ConfigError, Settings
from entrypoints.http.client_address import SourcePolicy
from entrypoints.http.metrics import Metrics
from entrypoints.wiring import build


class SettingsProvider(Provider):
    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    @provide(scope=Scope.APP)
    def settings(self) -> Settings:
        return self._settings

    @provide(scope=Scope.APP)
    def terms(self, settings: Settings) -> ShopTerms:
        return settings.shop_terms()

    @provide(scope=Scope.APP)
    def yookassa_sources(self, settings: Settings) -> SourcePolicy:
        return SourcePolicy(settings.yookassa_trusted_networks, settings.trusted_proxies)

    @provide(scope=Scope.APP)
    def policy(self, terms: ShopTerms) -> AccessPolicy:
        return AccessPolicy(terms.admin_ids)

    @provide(scope=Scope.APP)
    def catalog(self) -> MessageCatalog:
        return MessageCatalog.load()

    @provide(scope=Scope.APP)
    def renderer(self, catalog: MessageCatalog) -> NoticeRenderer:
        return CatalogNoticeRenderer(catalog)


# The engine the units of work write through (on SQLite: one connection, see create_engine);
# plain ``AsyncEngine`` is the one readers, health checks and migrations read through.
WriteEngine = NewType("WriteEngine", AsyncEngine)


class DatabaseProvider(Provider):
    @provide(scope=Scope.APP)
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database_url)
        yield engine
        await engine.dispose()

    @provide(scope=Scope.APP)
    async def write_engine(self, settings: Settings) -> AsyncIterator[WriteEngine]:
        engine = create_engine(settings.database_url, writer=True)
        yield WriteEngine(engine)
        await engine.dispose()

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self, engine: WriteEngine) -> UnitOfWork:
        return SqlaUnitOfWork(engine)

    @provide(scope=Scope.APP)
    def newcomers(self, engine: WriteEngine) -> NewcomerRegistry:
        return SqlNewcomerRegistry(engine)

    @provide(scope=Scope.APP)
    def referral_reader(self, engine: AsyncEngine) -> ReferralReader:
        return SqlReferralReader(engine)

    @provide(scope=Scope.APP)
    def blacklist_reader(self, engine: AsyncEngine) -> BlacklistReader:
        return SqlBlacklistReader(engine)

    @provide(scope=Scope.APP)
    def outbox_reader(self, engine: AsyncEngine) -> OutboxReader:
        return SqlOutboxReader(engine)

    @provide(scope=Scope.APP)
    def purchase_stats_reader(self, engine: AsyncEngine) -> PurchaseStatsReader:
        return SqlPurchaseStatsReader(engine)


class SystemProvider(Provider):
    clock = provide(UtcClock, scope=Scope.APP, provides=Clock)
    ids = provide(RandomIdGenerator, scope=Scope.APP, provides=IdGenerator)
    metrics = provide(Metrics, scope=Scope.APP)


class TelegramProvider(Provider):
    """The real Bot API client, and the Telegram adapters built on it."""

    @provide(scope=Scope.APP)
    async def bot(self, settings: Settings) -> AsyncIterator[Bot]:
        assert settings.bot_token is not None
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        bot = Bot(settings.bot_token.get_secret_value(), session=session)
        yield bot
        await bot.session.close()

    @provide(scope=Scope.APP)
    async def pacer(self, settings: Settings) -> AsyncIterator[TelegramPacer]:
        """One pacer for everything the bot sends (``RedisPacer``, shared by every instance,
        when ``AIMPAY_REDIS_URL`` is set, else ``MemoryPacer``)."""
        pacer = make_pacer(settings.redis_url, settings.telegram_rate)
        yield pacer
        await pacer.close()

    @provide(scope=Scope.APP)
    def notifier(self, bot: Bot, pacer: TelegramPacer, metrics: Metrics) -> Notifier:
        return TelegramNotifier(bot, pacer=pacer, on_flood=metrics.telegram_flood)


def bot_username(bot: Bot) -> Callable[[], Awaitable[str]]:
    """Asks Telegram for the bot's username once (aiogram keeps ``getMe``'s answer)."""

    async def username() -> str:
        return (await bot.me()).username or ""

    return username


class CourseChatProvider(Provider):
    """The course chat in Telegram (``AIMPAY_COURSE_CHAT_ID``)."""

    @provide(scope=Scope.APP)
    def course(self, bot: Bot, settings: Settings) -> CourseAccess:
        assert settings.course_chat_id is not None
        return TelegramCourseAccess(bot, settings.course_chat_id)


class SandboxCourseProvider(Provider):
    """No course chat, in the sandbox: invite links to a page of ours (or into the bot)."""

    @provide(scope=Scope.APP, provides=AnyOf[SandboxCourseAccess, CourseAccess])
    def course(self, bot: Bot, clock: Clock, settings: Settings) -> SandboxCourseAccess:
        return SandboxCourseAccess(clock, bot_username(bot), settings.public_url)


class PaymentsProvider(Provider):
    @provide(scope=Scope.APP)
    async def gateway(self, settings: Settings) -> AsyncIterator[PaymentGateway]:
        assert settings.yookassa_shop_id and settings.yookassa_secret_key
        gateway = YooKassaPaymentGateway(
            settings.yookassa_shop_id,
            settings.yookassa_secret_key.get_secret_value(),
            api_url=settings.yookassa_api_url,
            vat_code=settings.yookassa_vat_code,
        )
        yield gateway
        await gateway.aclose()


class SandboxPaymentsProvider(Provider):
    """``AIMPAY_PAYMENTS=sandbox``: payments in memory, paid with a button in the bot."""

    @provide(scope=Scope.APP, provides=AnyOf[SandboxPaymentGateway, PaymentGateway])
    def gateway(self, bot: Bot) -> SandboxPaymentGateway:
        return SandboxPaymentGateway(bot_username(bot))


class EmailProvider(Provider):
    @provide(scope=Scope.APP)
    async def email(self, settings: Settings) -> AsyncIterator[EmailSender]:
        assert settings.resend_api_key and settings.email_from
        sender = ResendEmailSender(
            settings.resend_api_key.get_secret_value(), settings.email_from, api_url=settings.resend_api_url
        )
        yield sender
        await sender.aclose()


class LogEmailProvider(Provider):
    """``AIMPAY_EMAIL=log``: emails are written to the log."""

    email = provide(LogEmailSender, scope=Scope.APP, provides=AnyOf[LogEmailSender, EmailSender])


class FakeOutsideWorldProvider(Provider):
    """The offline harness: YooKassa, Resend and Telegram as in-memory fakes."""

    scope = Scope.APP

    @provide(provides=AnyOf[FakePaymentGateway, PaymentGateway])
    def gateway(self) -> FakePaymentGateway:
        return FakePaymentGateway()  # a factory: dishka cannot fill its ``confirmation_url: str``

    email = provide(RecordingEmailSender, provides=AnyOf[RecordingEmailSender, EmailSender])
    notifier = provide(RecordingNotifier, provides=AnyOf[RecordingNotifier, Notifier])
    course = provide(FakeCourseAccess, provides=AnyOf[FakeCourseAccess, CourseAccess])


class ReactionsProvider(Provider):
    """The message bus with the handlers ``application.handlers.EVENT_HANDLERS`` lists, and the
    outbox's dispatcher with the handlers ``application.delivery.OUTBOX_HANDLERS`` lists. A
    handler's constructor may ask for any of the parts these two factories take."""

    @provide(scope=Scope.APP)
    def bus(
        self,
        outbox: OutboxWriter,
        clock: Clock,
        ids: IdGenerator,
        terms: ShopTerms,
        policy: AccessPolicy,
        gatekeeper: Gatekeeper,
    ) -> MessageBus:
        parts = {
            OutboxWriter: outbox,
            Clock: clock,
            IdGenerator: ids,
            ShopTerms: terms,
            AccessPolicy: policy,
            Gatekeeper: gatekeeper,
        }
        built: dict[type, EventHandler] = {cls: build(cls, parts) for cls in handler_classes()}
        return MessageBus({event: [built[cls] for cls in classes] for event, classes in EVENT_HANDLERS.items()})

    @provide(scope=Scope.REQUEST)
    def outbox_dispatcher(
        self,
        uow: UnitOfWork,
        notifier: Notifier,
        email: EmailSender,
        renderer: NoticeRenderer,
        access: AccessIssuer,
        gatekeeper: Gatekeeper,
        outbox: OutboxWriter,
        terms: ShopTerms,
    ) -> OutboxDispatcher:
        parts = {
            UnitOfWork: uow,
            Notifier: notifier,
            EmailSender: email,
            NoticeRenderer: renderer,
            AccessIssuer: access,
            Gatekeeper: gatekeeper,
            OutboxWriter: outbox,
            ShopTerms: terms,
        }
        handlers: dict[OutboxKind, OutboxHandler] = {kind: build(cls, parts) for kind, cls in OUTBOX_HANDLERS.items()}
        return OutboxDispatcher(handlers)


def _application() -> Provider:
    provider = Provider(scope=Scope.APP)
    provider.provide_all(OutboxWriter, Gatekeeper, MayUseBot)
    provider.provide_all(
        AccessIssuer,
        PaymentRecorder,
        RegisterCustomer,
        StartCheckout,
        ConfirmPayment,
        DeliverOutbox,
        GetReferralSummary,
        BanUser,
        UnbanUser,
        RecordCourseJoin,
        scope=Scope.REQUEST,
    )
    return provider


def providers(settings: Settings, *, offline: bool = False) -> list[Provider]:
    core = [SettingsProvider(settings), DatabaseProvider(), SystemProvider(), ReactionsProvider(), _application()]
    if offline:
        return [*core, FakeOutsideWorldProvider()]
    if settings.course_chat_id is not None:
        course: Provider = CourseChatProvider()
    elif settings.sandbox:
        course = SandboxCourseProvider()
    else:  # never hand paying customers a sandbox link
        raise ConfigError("AIMPAY_COURSE_CHAT_ID: required with AIMPAY_PAYMENTS=yookassa, not set")
    payments = SandboxPaymentsProvider() if settings.sandbox else PaymentsProvider()
    email = LogEmailProvider() if settings.email == "log" else EmailProvider()
    return [*core, TelegramProvider(), course, payments, email]


def make_container(
    settings: Settings,
    *,
    offline: bool = False,
    extra: Iterable[Provider] = (),
    context: dict[object, object] | None = None,
) -> AsyncContainer:
    return make_async_container(
        *providers(settings, offline=offline), *extra, validation_settings=STRICT_VALIDATION, context=context
    )
