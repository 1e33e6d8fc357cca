"""A dishka container of the use cases over the in-memory fakes, and a Dispatcher wired to it,
the way the production container wires the real adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.aiogram import AiogramProvider, setup_dishka

from application.terms import ShopTerms
from application.use_cases.ban_user import BanUser
from application.use_cases.check_blacklist import MayUseBot
from application.use_cases.record_course_join import RecordCourseJoin
from application.use_cases.referral_summary import GetReferralSummary
from application.use_cases.register_customer import RegisterCustomer
from application.use_cases.start_checkout import StartCheckout
from application.use_cases.unban_user import UnbanUser
from domain.policy import AccessPolicy
from entrypoints.bot import Throttle, build_dispatcher
from entrypoints.config import Settings, load_settings
from tests.unit.harness import Harness

COURSE_CHAT_ID = -1001234567890  # the course chat the bot's settings name


class HarnessProvider(Provider):
    def __init__(self, h: Harness) -> None:
        super().__init__()
        self.h = h

    @provide(scope=Scope.APP)
    def terms(self) -> ShopTerms:
        return self.h.terms

    @provide(scope=Scope.APP)
    def policy(self) -> AccessPolicy:
        return self.h.policy

    @provide(scope=Scope.APP)
    def settings(self) -> Settings:
        return load_settings(course_chat_id=COURSE_CHAT_ID)

    @provide(scope=Scope.REQUEST)
    def register(self) -> RegisterCustomer:
        return self.h.register()

    @provide(scope=Scope.REQUEST)
    def checkout(self) -> StartCheckout:
        return self.h.checkout()

    @provide(scope=Scope.REQUEST)
    def summary(self) -> GetReferralSummary:
        return self.h.summary()

    @provide(scope=Scope.REQUEST)
    def ban(self) -> BanUser:
        h = self.h
        return BanUser(h.uow(), h.course, h.clock, h.gatekeeper())

    @provide(scope=Scope.REQUEST)
    def unban(self) -> UnbanUser:
        return UnbanUser(self.h.uow(), self.h.gatekeeper())

    @provide(scope=Scope.REQUEST)
    def may_use_bot(self) -> MayUseBot:
        return self.h.may_use_bot()

    @provide(scope=Scope.REQUEST)
    def record_join(self) -> RecordCourseJoin:
        return self.h.record_join()


@asynccontextmanager
async def wired_dispatcher(
    h: Harness, bot: Bot, storage: BaseStorage | None = None, throttling: Throttle | None = None
) -> AsyncIterator[Dispatcher]:
    """``build_dispatcher`` + ``setup_dishka(..., auto_inject=True)`` + startup, as in production."""
    container = make_async_container(HarnessProvider(h), AiogramProvider())
    dp = build_dispatcher(storage=storage, throttling=throttling)
    setup_dishka(container, router=dp, auto_inject=True)
    await dp.emit_startup(bot=bot)
    try:
        yield dp
    finally:
        await dp.emit_shutdown(bot=bot)
        await dp.storage.close()
        await container.close()
