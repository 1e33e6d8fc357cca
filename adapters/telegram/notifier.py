"""Messages to a Telegram user through the bot."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions

from adapters.telegram.errors import translated
from application.ports.messaging import LinkButton, Notifier
from domain.ids import TelegramId


def link_keyboard(buttons: tuple[LinkButton, ...]) -> InlineKeyboardMarkup | None:
    """One URL button per row; ``None`` for no buttons."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=b.text, url=b.url)] for b in buttons])


class TelegramNotifier(Notifier):
    """``Notifier`` over the Bot API. Texts go out as plain text (no ``parse_mode``), so nothing a
    user typed is ever read as markup; buttons become an inline keyboard of URL buttons."""

    def __init__(self, bot: Bot, request_timeout: int = 15) -> None:
        self._bot = bot
        self._timeout = request_timeout

    async def send_message(self, telegram_id: TelegramId, text: str, buttons: tuple[LinkButton, ...] = ()) -> None:
        async with translated(f"sendMessage to {telegram_id}"):
            await self._bot.send_message(
                chat_id=telegram_id.value,
                text=text,
                parse_mode=None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=link_keyboard(tuple(buttons)),
                request_timeout=self._timeout,
            )
