"""Small helpers shared by the handlers: the user's language and plain-text replies.

The bot's words come from the message catalog (``adapters.catalog``), which the dispatcher
carries in its workflow data as ``catalog``: a handler takes it as a ``catalog`` argument."""

from __future__ import annotations

from aiogram import Bot
from aiogram.methods import SendMessage
from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions, User

from domain.customer import Language

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def language_of(user: User | None) -> Language:
    return Language.from_telegram(user.language_code if user else None)


def reply(chat_id: int, body: str, markup: InlineKeyboardMarkup | None = None) -> SendMessage:
    """The answer to an update, as plain text, for the handler to **return**: behind the webhook it
    goes back in the HTTP response to Telegram (no call of our own, so a burst of /start costs no
    outbound request); in long polling aiogram sends it. Use ``say`` where the message id is
    needed or a second message follows."""
    return SendMessage(
        chat_id=chat_id, text=body, parse_mode=None, reply_markup=markup, link_preview_options=NO_PREVIEW
    )


async def say(bot: Bot, chat_id: int, body: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Sends ``body`` as plain text: never parsed as markup, whatever the bot's defaults."""
    await bot.send_message(
        chat_id=chat_id, text=body, parse_mode=None, reply_markup=markup, link_preview_options=NO_PREVIEW
    )


async def bot_link(bot: Bot) -> str:
    """``https://t.me/<bot username>`` (aiogram caches ``getMe``)."""
    me = await bot.me()
    return f"https://t.me/{me.username}"
