"""Outgoing messages: Telegram notices, email, and the course chat's invite links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.email import Email
from domain.ids import TelegramId


class DeliveryError(Exception):
    """A message could not be delivered. ``permanent`` means trying again cannot help (the user
    blocked the bot, the address is refused); otherwise the outbox tries again later."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class DeliveryDeferred(DeliveryError):
    """Not now: nothing was sent, and trying again after ``after`` seconds will be allowed (a
    rate limit: the recipient's or the whole channel's budget is used up, or the provider asked
    us to slow down). It is not a failed attempt: the outbox moves the message's next attempt
    ``after`` seconds on and counts nothing. Code that catches ``DeliveryError`` catches this
    too; a caller that cannot wait treats it as the transient error it is."""

    def __init__(self, message: str, *, after: float) -> None:
        super().__init__(message, permanent=False)
        self.after = max(0.0, after)


@dataclass(frozen=True, slots=True)
class LinkButton:
    text: str
    url: str


class Notifier(Protocol):
    async def send_message(self, telegram_id: TelegramId, text: str, buttons: tuple[LinkButton, ...] = ()) -> None:
        """Raises ``DeliveryError``, or ``DeliveryDeferred`` when the message may not go out yet
        (pacing: nothing was sent)."""
        ...


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: Email
    subject: str
    text: str
    html: str


class EmailSender(Protocol):
    async def send(self, email: OutgoingEmail, idempotency_key: str) -> None:
        """Sends once per ``idempotency_key``; raises ``DeliveryError``."""
        ...


class CourseAccess(Protocol):
    """The course chat: who is in it, and one-time invite links to it."""

    async def create_invite(self, name: str, expires_at: datetime) -> str:
        """A link that admits one member and expires at ``expires_at``; raises ``DeliveryError``."""
        ...

    async def revoke_invite(self, invite_link: str) -> None: ...

    async def is_member(self, telegram_id: TelegramId) -> bool: ...

    async def remove_member(self, telegram_id: TelegramId) -> None:
        """Removes the user from the chat (they may join again with a new link)."""
        ...
