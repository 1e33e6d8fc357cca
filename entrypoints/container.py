"""The composition root: the one place where ports meet their adapters.

``make_container(settings)`` wires the real adapters; ``make_container(settings, offline=True)``
(the offline harness behind ``aimpay demo``) swaps YooKassa, Resend and Telegram for the
in-memory fakes and keeps everything else real: SQLite, migrations, use cases, bot, HTTP app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from dishka import STRICT_VALIDATION, AnyOf, AsyncContainer, Provider, Scope, make_async_container, provide
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender, RecordingNotifier
from adapters.resend.sender import ResendEmailSender
from adapters.sql.engine import create_engine, make_session_factory
from adapters.sql.unit_of_work import SqlaUnitOfWork
from adapters.system import RandomIdGenerator, UtcClock
from adapters.telegram import TelegramCourseAccess, TelegramNotifier
from adapters.yookassa.gateway import YooKassaPaymentGateway
from application.ports.messaging import CourseAccess, EmailSender, Notifier
from application.ports.payment_gateway import PaymentGateway
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.services.access import AccessIssuer
from application.services.outbox import OutboxWriter
from application.services.payments import PaymentRecorder
from application.terms import ShopTerms
from application.use_cases.ban_user import BanUser
from application.use_cases.check_blacklist import IsBlacklisted
from application.use_cases.confirm_payment import ConfirmPayment
from application.use_cases.deliver_outbox import DeliverOutbox
from application.use_cases.record_course_join import RecordCourseJoin
from application.use_cases.referral_summary import GetReferralSummary
from application.use_cases.register_customer import RegisterCustomer
from application.use_cases.start_checkout import StartCheckout
from application.use_cases.unban_user import UnbanUser
from entrypoints.config import Settings
from entrypoints.http.client_address import SourcePolicy


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


class DatabaseProvider(Provider):
    @provide(scope=Scope.APP)
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database_url)
        yield engine
        await engine.dispose()

    @provide(scope=Scope.APP)
    def sessions(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return make_session_factory(engine)

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self, sessions: async_sessionmaker[AsyncSession]) -> UnitOfWork:
        return SqlaUnitOfWork(sessions)


class SystemProvider(Provider):
    clock = provide(UtcClock, scope=Scope.APP, provides=Clock)
    ids = provide(RandomIdGenerator, scope=Scope.APP, provides=IdGenerator)


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
    def notifier(self, bot: Bot) -> Notifier:
        return TelegramNotifier(bot)

    @provide(scope=Scope.APP)
    def course(self, bot: Bot, settings: Settings) -> CourseAccess:
        assert settings.course_chat_id is not None
        return TelegramCourseAccess(bot, settings.course_chat_id)


class PaymentsProvider(Provider):
    @provide(scope=Scope.APP)
    def gateway(self, settings: Settings) -> PaymentGateway:
        assert settings.yookassa_shop_id and settings.yookassa_secret_key
        return YooKassaPaymentGateway(
            settings.yookassa_shop_id,
            settings.yookassa_secret_key.get_secret_value(),
            api_url=settings.yookassa_api_url,
            vat_code=settings.yookassa_vat_code,
        )


class EmailProvider(Provider):
    @provide(scope=Scope.APP)
    async def email(self, settings: Settings) -> AsyncIterator[EmailSender]:
        assert settings.resend_api_key and settings.email_from
        sender = ResendEmailSender(
            settings.resend_api_key.get_secret_value(), settings.email_from, api_url=settings.resend_api_url
        )
        yield sender
        await sender.aclose()


class FakeOutsideWorldProvider(Provider):
    """The offline harness: YooKassa, Resend and Telegram as in-memory fakes."""

    scope = Scope.APP

    @provide(provides=AnyOf[FakePaymentGateway, PaymentGateway])
    def gateway(self) -> FakePaymentGateway:
        return FakePaymentGateway()  # a factory: dishka cannot fill its ``confirmation_url: str``

    email = provide(RecordingEmailSender, provides=AnyOf[RecordingEmailSender, EmailSender])
    notifier = provide(RecordingNotifier, provides=AnyOf[RecordingNotifier, Notifier])
    course = provide(FakeCourseAccess, provides=AnyOf[FakeCourseAccess, CourseAccess])


def _use_cases() -> Provider:
    provider = Provider(scope=Scope.REQUEST)
    for cls in (
        OutboxWriter,
        AccessIssuer,
        PaymentRecorder,
        RegisterCustomer,
        StartCheckout,
        ConfirmPayment,
        DeliverOutbox,
        GetReferralSummary,
        BanUser,
        UnbanUser,
        IsBlacklisted,
        RecordCourseJoin,
    ):
        provider.provide(cls)
    return provider


def providers(settings: Settings, *, offline: bool = False) -> list[Provider]:
    core = [SettingsProvider(settings), DatabaseProvider(), SystemProvider(), _use_cases()]
    if offline:
        return [*core, FakeOutsideWorldProvider()]
    return [*core, TelegramProvider(), PaymentsProvider(), EmailProvider()]


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
