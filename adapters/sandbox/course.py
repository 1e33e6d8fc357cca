"""The course chat, played in memory, for a sandbox without a course chat."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from application.ports.messaging import CourseAccess
from application.ports.system import Clock
from domain.ids import TelegramId

log = logging.getLogger(__name__)

# The bot's /start payload of a sandbox invite link: ``sandboxcourse_<token>``.
COURSE_PREFIX = "sandboxcourse_"


@dataclass
class SandboxInvite:
    token: str
    link: str
    name: str
    expires_at: datetime
    revoked: bool = False
    used_by: TelegramId | None = None


class SandboxCourseAccess(CourseAccess):
    """``CourseAccess`` without a course chat: invite links lead to a page of ours that says what
    would happen, ``<public_url>/sandbox/course/<token>``, or without a public URL to the bot,
    ``https://t.me/<bot username>?start=sandboxcourse_<token>``. Opening a link (``admit``)
    makes its first user a "member", kept in this process's memory, as Telegram would admit one
    member by a one-time link."""

    def __init__(self, clock: Clock, bot_username: Callable[[], Awaitable[str]], public_url: str | None = None) -> None:
        self._clock = clock
        self._bot_username = bot_username
        self._public_url = public_url.rstrip("/") if public_url else None
        self._invites: dict[str, SandboxInvite] = {}  # token -> invite
        self.members: set[TelegramId] = set()

    async def deep_link(self, token: str) -> str:
        """The link into the bot that admits its user (the page links to it too)."""
        return f"https://t.me/{await self._bot_username()}?start={COURSE_PREFIX}{token}"

    async def create_invite(self, name: str, expires_at: datetime) -> str:
        token = secrets.token_urlsafe(12)  # 16 characters of A-Z a-z 0-9 _ -
        if self._public_url:
            link = f"{self._public_url}/sandbox/course/{token}"
        else:
            link = await self.deep_link(token)
        self._invites[token] = SandboxInvite(token, link, name, expires_at)
        log.info("sandbox invite link %s (%s); no course chat is configured", link, name)
        return link

    async def revoke_invite(self, invite_link: str) -> None:
        for invite in self._invites.values():
            if invite.link == invite_link:
                invite.revoked = True

    async def is_member(self, telegram_id: TelegramId) -> bool:
        return telegram_id in self.members

    async def remove_member(self, telegram_id: TelegramId) -> None:
        self.members.discard(telegram_id)

    def invite(self, token: str) -> SandboxInvite | None:
        return self._invites.get(token)

    def admit(self, token: str, telegram_id: TelegramId) -> str | None:
        """``telegram_id`` opens the link ``token``: admitted (and the link returned) unless it
        is unknown here, revoked, expired or used by somebody else."""
        invite = self._invites.get(token)
        if invite is None or invite.revoked or invite.expires_at <= self._clock.now():
            return None
        if invite.used_by is not None and invite.used_by != telegram_id:
            return None
        invite.used_by = telegram_id
        self.members.add(telegram_id)
        return invite.link
