"""Messages to a Telegram user through the bot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions

from adapters.telegram.errors import translated
from adapters.telegram.pacing import Cause, TelegramPacer
from application.ports.messaging import DeliveryDeferred, LinkButton, Notifier
from domain.ids import TelegramId

MAX_WAIT_IN_PLACE = 1.0  # seconds a send may wait for the bot's budget before it is deferred instead


def link_keyboard(buttons: tuple[LinkButton, ...]) -> InlineKeyboardMarkup | None:
    """One URL button per row; ``None`` for no buttons."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=b.text, url=b.url)] for b in buttons])


class TelegramNotifier(Notifier):
    """``Notifier`` over the Bot API. Texts go out as plain text (no ``parse_mode``), so nothing a
    user typed is ever read as markup; buttons become an inline keyboard of URL buttons.

    With a ``pacer`` every send first takes a slot (``adapters.telegram.pacing``). A wait for the
    bot's whole budget is slept here while the waits add up to under ``max_wait_in_place``
    seconds; a longer one, a wait for the chat's own one message a second, or a pause raises
    ``DeliveryDeferred`` (nothing sent, the outbox tries again then, and goes on with other
    chats meanwhile). Telegram's 429 (``TelegramRetryAfter``) pauses the pacer for
    ``retry_after`` and is a ``DeliveryDeferred`` of that long, with or without a pacer; it is
    also told to ``on_flood(retry_after)`` (the composition root counts it in the metrics)."""

    def __init__(
        self,
        bot: Bot,
        request_timeout: int = 15,
        pacer: TelegramPacer | None = None,
        max_wait_in_place: float = MAX_WAIT_IN_PLACE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_flood: Callable[[float], object] | None = None,
    ) -> None:
        self._bot = bot
        self._on_flood = on_flood
        self._timeout = request_timeout
        self._pacer = pacer
        self._max_wait_in_place = max_wait_in_place
        self._sleep = sleep

    async def send_message(self, telegram_id: TelegramId, text: str, buttons: tuple[LinkButton, ...] = ()) -> None:
        action = f"sendMessage to {telegram_id}"
        await self._take_slot(telegram_id, action)
        async with translated(action):
            try:
                await self._bot.send_message(
                    chat_id=telegram_id.value,
                    text=text,
                    parse_mode=None,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    reply_markup=link_keyboard(tuple(buttons)),
                    request_timeout=self._timeout,
                )
            except TelegramRetryAfter as exc:
                if self._on_flood is not None:
                    self._on_flood(exc.retry_after)
                if self._pacer is not None:
                    await self._pacer.pause(exc.retry_after)
                raise DeliveryDeferred(
                    f"{action}: Telegram flood control, retry after {exc.retry_after} s", after=exc.retry_after
                ) from exc

    async def _take_slot(self, telegram_id: TelegramId, action: str) -> None:
        if self._pacer is None:
            return
        waited = 0.0
        while True:
            slot = await self._pacer.try_reserve(telegram_id.value)
            if slot.granted:
                return
            if slot.cause is Cause.RATE and waited + slot.wait < self._max_wait_in_place:
                await self._sleep(slot.wait)
                waited += slot.wait
                continue
            raise DeliveryDeferred(f"{action}: paced ({slot.cause}), try again in {slot.wait:.3f} s", after=slot.wait)
