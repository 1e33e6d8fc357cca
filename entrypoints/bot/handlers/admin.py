"""/ban and /unban, for the shop's admins; to anybody else they do not exist."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from dishka.integrations.aiogram import FromDishka, inject

from application.terms import ShopTerms
from application.texts import text
from application.use_cases.ban_user import BanOutcome, BanUser
from application.use_cases.unban_user import UnbanUser
from domain.errors import InvalidValue
from domain.ids import TelegramId
from entrypoints.bot.replies import language_of, say


async def _target(message: Message, command: CommandObject, bot: Bot, terms: ShopTerms) -> TelegramId | None:
    """The user id an admin's command names; ``None`` after answering a non-admin (as if the
    command did not exist) or a missing/invalid id (with the usage)."""
    assert message.from_user is not None
    language = language_of(message.from_user)
    if not terms.is_admin(TelegramId(message.from_user.id)):
        await say(bot, message.chat.id, text(language, "unknown"))
        return None
    try:
        return TelegramId.parse(command.args or "")
    except InvalidValue:
        await say(bot, message.chat.id, text(language, "ban.usage", command=command.command))
        return None


def router() -> Router:
    r = Router(name="admin")

    @r.message(Command("ban"))
    @inject
    async def ban(
        message: Message, command: CommandObject, bot: Bot, ban_user: FromDishka[BanUser], terms: FromDishka[ShopTerms]
    ) -> None:
        target = await _target(message, command, bot, terms)
        if target is None:
            return
        language = language_of(message.from_user)
        result = await ban_user(target)
        if result.outcome is BanOutcome.REFUSED_ADMIN:
            body = text(language, "ban.admin", id=target)
        elif result.kick_error is not None:
            body = text(language, "ban.kick_failed", id=target, error=result.kick_error)
        elif result.outcome is BanOutcome.ALREADY_BANNED:
            body = text(language, "ban.already", id=target)
        else:
            body = text(language, "ban.done", id=target)
        await say(bot, message.chat.id, body)

    @r.message(Command("unban"))
    @inject
    async def unban(
        message: Message,
        command: CommandObject,
        bot: Bot,
        unban_user: FromDishka[UnbanUser],
        terms: FromDishka[ShopTerms],
    ) -> None:
        target = await _target(message, command, bot, terms)
        if target is None:
            return
        removed = await unban_user(target)
        body = text(language_of(message.from_user), "unban.done" if removed else "unban.absent", id=target)
        await say(bot, message.chat.id, body)

    return r
