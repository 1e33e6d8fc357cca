"""Whatever no other handler took."""

from __future__ import annotations

from aiogram import Router
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message

from adapters.catalog import MessageCatalog
from entrypoints.bot.replies import language_of, reply


def router() -> Router:
    r = Router(name="fallback")

    @r.message()
    async def unknown(message: Message, catalog: MessageCatalog) -> SendMessage:
        return reply(message.chat.id, catalog.text(language_of(message.from_user), "unknown"))

    @r.callback_query()
    async def stale_button(callback: CallbackQuery, catalog: MessageCatalog) -> None:
        await callback.answer(catalog.text(language_of(callback.from_user), "unknown"))

    return r
