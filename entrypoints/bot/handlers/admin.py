"""/ban and /unban, for the shop's admins; to anybody else they do not exist.

The router's filter only routes (a non-admin's /ban falls through to "unknown command"); the use
cases decide who may act, with the caller as the actor."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.methods import SendMessage
from aiogram.types import Message, TelegramObject, User
from dishka import AsyncContainer
from dishka.integrations.aiogram import CONTAINER_NAME, FromDishka, inject

from adapters.catalog import MessageCatalog
from application.errors import NotAuthorized
from application.use_cases.ban_user import BanOutcome, BanUser
from application.use_cases.unban_user import UnbanUser
from domain.errors import InvalidValue
from domain.ids import TelegramId
from domain.policy import AccessPolicy
from entrypoints.bot.replies import language_of, reply


class FromAdmin(Filter):
    """Passes updates of the people the access policy calls admins."""

    async def __call__(self, event: TelegramObject, **data: object) -> bool:
        user = data.get("event_from_user")
        container = data.get(CONTAINER_NAME)
        if not isinstance(user, User) or not isinstance(container, AsyncContainer):
            return False
        policy = await container.get(AccessPolicy)
        return policy.is_admin(TelegramId(user.id))


def _target(command: CommandObject) -> TelegramId | None:
    """The user id the command names, if it names one."""
    try:
        return TelegramId.parse(command.args or "")
    except InvalidValue:
        return None


def _usage(message: Message, command: CommandObject, catalog: MessageCatalog) -> SendMessage:
    return reply(message.chat.id, catalog.text(language_of(message.from_user), "ban.usage", command=command.command))


def router() -> Router:
    r = Router(name="admin")
    r.message.filter(FromAdmin())

    @r.message(Command("ban"))
    @inject
    async def ban(
        message: Message, command: CommandObject, catalog: MessageCatalog, ban_user: FromDishka[BanUser]
    ) -> SendMessage:
        assert message.from_user is not None
        target = _target(command)
        if target is None:
            return _usage(message, command, catalog)
        language = language_of(message.from_user)
        try:
            result = await ban_user(TelegramId(message.from_user.id), target)
        except NotAuthorized:
            return reply(message.chat.id, catalog.text(language, "unknown"))
        if result.outcome is BanOutcome.REFUSED_ADMIN:
            body = catalog.text(language, "ban.admin", id=target)
        elif result.kick_error is not None:
            body = catalog.text(language, "ban.kick_failed", id=target, error=result.kick_error)
        elif result.outcome is BanOutcome.ALREADY_BANNED:
            body = catalog.text(language, "ban.already", id=target)
        else:
            body = catalog.text(language, "ban.done", id=target)
        return reply(message.chat.id, body)

    @r.message(Command("unban"))
    @inject
    async def unban(
        message: Message,
        command: CommandObject,
        catalog: MessageCatalog,
        unban_user: FromDishka[UnbanUser],
    ) -> SendMessage:
        assert message.from_user is not None
        target = _target(command)
        if target is None:
            return _usage(message, command, catalog)
        language = language_of(message.from_user)
        try:
            removed = await unban_user(TelegramId(message.from_user.id), target)
        except NotAuthorized:
            return reply(message.chat.id, catalog.text(language, "unknown"))
        if removed:
            return reply(message.chat.id, catalog.text(language, "unban.done", id=target))
        return reply(message.chat.id, catalog.text(language, "unban.absent", id=target))

    return r
