"""The course chat: a member who joined by one of our invite links spends it."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import JOIN_TRANSITION, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated
from dishka.integrations.aiogram import FromDishka, inject

from application.use_cases.record_course_join import RecordCourseJoin
from domain.ids import TelegramId
from entrypoints.config import Settings

log = logging.getLogger(__name__)


def router() -> Router:
    """Handles ``chat_member`` updates (the bot must be an admin of the course chat, and
    ``allowed_updates`` must name them: ``dispatcher.resolve_used_update_types()`` does once
    this router is included). Joins in any chat but ``Settings.course_chat_id`` are ignored."""
    r = Router(name="course_chat")

    @r.chat_member(ChatMemberUpdatedFilter(JOIN_TRANSITION))
    @inject
    async def joined(
        event: ChatMemberUpdated, record_join: FromDishka[RecordCourseJoin], settings: FromDishka[Settings]
    ) -> None:
        if settings.course_chat_id is None or event.chat.id != settings.course_chat_id:
            return
        user = event.new_chat_member.user
        link = event.invite_link.invite_link if event.invite_link else None
        outcome = await record_join(TelegramId(user.id), link)
        log.info("user %s joined the course chat (link %s): %s", user.id, "yes" if link else "no", outcome)

    return r
