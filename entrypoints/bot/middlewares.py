"""Outer middlewares of the bot's private-chat router: the blacklist, then the rate limit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from dishka import AsyncContainer
from dishka.integrations.aiogram import CONTAINER_NAME

from adapters.catalog import MessageCatalog
from application.use_cases.check_blacklist import MayUseBot
from domain.ids import TelegramId
from entrypoints.bot.replies import language_of
from entrypoints.bot.throttling import Throttle, Verdict
from entrypoints.http.metrics import metrics_of

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class BlacklistMiddleware(BaseMiddleware):
    """Drops without a word every update of a person the access policy shuts out (``MayUseBot``,
    taken from the update's dishka container)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        container: AsyncContainer | None = data.get(CONTAINER_NAME)
        if container is None:
            raise RuntimeError("the blacklist needs dishka: call setup_dishka(container, router=dispatcher)")
        may_use_bot = await container.get(MayUseBot)
        if not await may_use_bot(TelegramId(user.id)):
            log.debug("ignored an update of blacklisted user %s", user.id)
            return None
        return await handler(event, data)


class ThrottlingMiddleware(BaseMiddleware):
    """Lets a user's updates through up to the throttle's limit; the first one over it gets a
    ``throttled`` warning, the rest of the window is ignored. Both are counted in the metrics
    (``Metrics.count_throttled``) when the update's container has them."""

    def __init__(self, throttle: Throttle) -> None:
        self._throttle = throttle

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        verdict = await self._throttle.hit(user.id)
        if verdict is Verdict.ALLOW:
            return await handler(event, data)
        container: AsyncContainer | None = data.get(CONTAINER_NAME)
        metrics = await metrics_of(container) if container is not None else None
        if metrics is not None:
            metrics.count_throttled(verdict.value)
        if verdict is Verdict.WARN:
            catalog: MessageCatalog = data["catalog"]
            warning = catalog.text(language_of(user), "throttled")
            if isinstance(event, Message):
                await event.answer(warning, parse_mode=None)
            elif isinstance(event, CallbackQuery):
                await event.answer(warning)
        return None
