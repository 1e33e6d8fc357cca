"""The bot's filters, as ``async`` filter classes.

aiogram runs a synchronous filter (a lambda, or a magic filter such as ``F.chat.type == ...``)
in a worker thread, one thread hop per update that reaches it; under a burst of updates those
hops cost more than the filters' work. These do the same checks on the event loop."""

from __future__ import annotations

from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject


class InPrivateChat(Filter):
    """A message in a private chat with the bot, or a button pressed under one."""

    async def __call__(self, event: TelegramObject) -> bool:
        if isinstance(event, Message):
            return event.chat.type == ChatType.PRIVATE
        if isinstance(event, CallbackQuery):
            return event.message is not None and event.message.chat.type == ChatType.PRIVATE
        return False


class ButtonData(Filter):
    """A press of the inline button whose callback data is ``data``."""

    def __init__(self, data: str) -> None:
        self.data = data

    async def __call__(self, callback: CallbackQuery) -> bool:
        return callback.data == self.data


class PlainText(Filter):
    """A text message that is not a command."""

    async def __call__(self, message: Message) -> bool:
        return message.text is not None and not message.text.startswith("/")


class NotText(Filter):
    """A message without text (a sticker, a photo, ...)."""

    async def __call__(self, message: Message) -> bool:
        return message.text is None
