"""Delivering notices and texts: Telegram and email."""

from __future__ import annotations

from collections.abc import Sequence

from application.notices import decode_notice
from application.ports.messaging import DeliveryError, EmailSender, LinkButton, Notifier, OutgoingEmail
from application.ports.rendering import NoticeRenderer
from domain.customer import Language
from domain.email import Email
from domain.errors import InvalidValue
from domain.ids import TelegramId
from domain.outbox import OutboxMessage


def _language(message: OutboxMessage) -> Language:
    try:
        return Language(message.payload.get("language", Language.RU.value))
    except ValueError as exc:
        raise DeliveryError(f"outbox {message.key}: unknown language", permanent=True) from exc


def _malformed(message: OutboxMessage, exc: Exception) -> DeliveryError:
    return DeliveryError(f"outbox {message.key}: malformed payload: {exc}", permanent=True)


class SendTelegramNotice:
    """Renders the notice in the recipient's language and sends it. Telegram has no idempotency
    key: a message whose answer was lost is sent again (at least once)."""

    def __init__(self, notifier: Notifier, renderer: NoticeRenderer) -> None:
        self._notifier = notifier
        self._renderer = renderer

    async def __call__(self, message: OutboxMessage) -> Sequence[OutboxMessage]:
        try:
            to = TelegramId(message.payload["telegram_id"])
            notice = decode_notice(message.payload["notice"])
        except (KeyError, InvalidValue) as exc:
            raise _malformed(message, exc) from exc
        rendered = self._renderer.telegram(notice, _language(message))
        await self._notifier.send_message(to, rendered.text, rendered.buttons)
        return ()


class SendEmailNotice:
    """Renders the notice as an email and sends it with the message key as the provider's
    idempotency key: a retry after a lost answer sends no second email."""

    def __init__(self, email: EmailSender, renderer: NoticeRenderer) -> None:
        self._email = email
        self._renderer = renderer

    async def __call__(self, message: OutboxMessage) -> Sequence[OutboxMessage]:
        try:
            to = Email(message.payload["to"])
            notice = decode_notice(message.payload["notice"])
        except (KeyError, InvalidValue) as exc:
            raise _malformed(message, exc) from exc
        content = self._renderer.email(notice, _language(message))
        await self._email.send(OutgoingEmail(to, content.subject, content.text, content.html), message.key)
        return ()


class SendTelegramText:
    """A text written already (messages queued before notices existed)."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def __call__(self, message: OutboxMessage) -> Sequence[OutboxMessage]:
        payload = message.payload
        try:
            to = TelegramId(payload["telegram_id"])
            buttons = tuple(LinkButton(b["text"], b["url"]) for b in payload.get("buttons", ()))
            text = str(payload["text"])
        except (KeyError, TypeError, InvalidValue) as exc:
            raise _malformed(message, exc) from exc
        await self._notifier.send_message(to, text, buttons)
        return ()


class SendEmailText:
    def __init__(self, email: EmailSender) -> None:
        self._email = email

    async def __call__(self, message: OutboxMessage) -> Sequence[OutboxMessage]:
        payload = message.payload
        try:
            email = OutgoingEmail(Email(payload["to"]), payload["subject"], payload["text"], payload["html"])
        except (KeyError, InvalidValue) as exc:
            raise _malformed(message, exc) from exc
        await self._email.send(email, idempotency_key=message.key)
        return ()
