"""The course chat (a supergroup where the bot is an administrator): invite links and members."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ChatMemberRestricted

from adapters.telegram.errors import CHAT_SETUP_BAD_REQUESTS, FLOOD_BAD_REQUESTS, translated
from application.ports.messaging import CourseAccess
from domain.ids import TelegramId

_TRANSIENT = FLOOD_BAD_REQUESTS + CHAT_SETUP_BAD_REQUESTS
# How Telegram says "this user is not in the chat" (it varies by chat kind and API version).
_NOT_A_MEMBER = (
    "user not found",
    "member not found",
    "participant not found",
    "participant_id_invalid",
    "user_not_participant",
)
# How Telegram says "this invite link is already unusable".
_LINK_GONE = ("invite_hash_expired", "invite link expired", "invite_hash_invalid")
_MEMBER_STATUSES = frozenset({ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.CREATOR})
_INVITE_NAME_LIMIT = 32  # Telegram's limit on an invite link's name


def _says(exc: TelegramBadRequest, fragments: tuple[str, ...]) -> bool:
    message = exc.message.lower()
    return any(f in message for f in fragments)


class TelegramCourseAccess(CourseAccess):
    """``CourseAccess`` over the Bot API for the chat ``chat_id``.

    Failures become ``DeliveryError``: the bot's missing rights or a wrong chat id are transient
    (an operator fixes them and the outbox tries again), a refused request is permanent.
    ``remove_member`` is a kick: a ban that lapses by itself after ``ban_safety``, lifted at once;
    if lifting fails, the user is still not banned from the chat for good.
    """

    def __init__(
        self, bot: Bot, chat_id: int, request_timeout: int = 15, ban_safety: timedelta = timedelta(minutes=2)
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._timeout = request_timeout
        self._ban_safety = ban_safety

    async def create_invite(self, name: str, expires_at: datetime) -> str:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must carry a time zone")
        async with translated("createChatInviteLink", _TRANSIENT):
            link = await self._bot.create_chat_invite_link(
                chat_id=self._chat_id,
                name=name[:_INVITE_NAME_LIMIT],
                expire_date=expires_at,
                member_limit=1,
                request_timeout=self._timeout,
            )
        return link.invite_link

    async def revoke_invite(self, invite_link: str) -> None:
        async with translated("revokeChatInviteLink", _TRANSIENT):
            try:
                await self._bot.revoke_chat_invite_link(
                    chat_id=self._chat_id, invite_link=invite_link, request_timeout=self._timeout
                )
            except TelegramBadRequest as exc:
                if not _says(exc, _LINK_GONE):
                    raise

    async def is_member(self, telegram_id: TelegramId) -> bool:
        async with translated(f"getChatMember {telegram_id}", _TRANSIENT):
            try:
                member = await self._bot.get_chat_member(
                    chat_id=self._chat_id, user_id=telegram_id.value, request_timeout=self._timeout
                )
            except TelegramBadRequest as exc:
                if _says(exc, _NOT_A_MEMBER):
                    return False
                raise
        if isinstance(member, ChatMemberRestricted):
            return member.is_member
        return member.status in _MEMBER_STATUSES

    async def remove_member(self, telegram_id: TelegramId) -> None:
        async with translated(f"kick {telegram_id}", _TRANSIENT):
            try:
                await self._bot.ban_chat_member(
                    chat_id=self._chat_id,
                    user_id=telegram_id.value,
                    until_date=self._ban_safety,
                    request_timeout=self._timeout,
                )
            except TelegramBadRequest as exc:
                if _says(exc, _NOT_A_MEMBER):
                    return  # not in the chat: nothing to remove
                raise
            await self._bot.unban_chat_member(
                chat_id=self._chat_id, user_id=telegram_id.value, only_if_banned=True, request_timeout=self._timeout
            )
