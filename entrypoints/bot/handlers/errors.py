"""The last resort: an unexpected exception is logged and the user gets a neutral apology."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent, User

from adapters.catalog import MessageCatalog
from entrypoints.bot.replies import language_of, say

log = logging.getLogger(__name__)


def _whom(event: ErrorEvent) -> User | None:
    """The user to apologise to: only in a private chat with the bot."""
    update = event.update
    if update.message is not None and update.message.chat.type == ChatType.PRIVATE:
        return update.message.from_user
    if update.callback_query is not None:
        message = update.callback_query.message
        if message is not None and message.chat.type == ChatType.PRIVATE:
            return update.callback_query.from_user
    return None


def router() -> Router:
    r = Router(name="errors")

    @r.errors()
    async def on_error(event: ErrorEvent, bot: Bot, catalog: MessageCatalog) -> None:
        log.error("update %s failed", event.update.update_id, exc_info=event.exception)
        user = _whom(event)
        if user is None:
            return
        try:
            await say(bot, user.id, catalog.text(language_of(user), "error"))
        except TelegramAPIError as exc:
            log.warning("could not tell user %s about the failure: %s", user.id, exc)

    return r
