"""What leaves the process: one handler per outbox kind, registered in one place.

An outbox handler delivers one message (``__call__(message)``), raising ``DeliveryError`` when it
cannot (``permanent`` when trying again cannot help), and returns the follow-up messages its
delivery causes; those are queued in the transaction that marks the message delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from application.delivery.access import IssueAccessLink
from application.delivery.messages import SendEmailNotice, SendEmailText, SendTelegramNotice, SendTelegramText
from application.ports.messaging import DeliveryError
from domain.outbox import OutboxKind, OutboxMessage

OUTBOX_HANDLERS: Mapping[OutboxKind, type] = {
    OutboxKind.GRANT_ACCESS: IssueAccessLink,
    OutboxKind.TELEGRAM_NOTICE: SendTelegramNotice,
    OutboxKind.EMAIL_NOTICE: SendEmailNotice,
    OutboxKind.TELEGRAM_MESSAGE: SendTelegramText,
    OutboxKind.EMAIL_MESSAGE: SendEmailText,
}


class OutboxHandler(Protocol):
    async def __call__(self, message: OutboxMessage) -> Sequence[OutboxMessage]: ...


class OutboxDispatcher:
    def __init__(self, handlers: Mapping[OutboxKind, OutboxHandler]) -> None:
        self._handlers = dict(handlers)

    @property
    def kinds(self) -> frozenset[OutboxKind]:
        return frozenset(self._handlers)

    async def __call__(self, message: OutboxMessage) -> Sequence[OutboxMessage]:
        handler = self._handlers.get(message.kind)
        if handler is None:
            raise DeliveryError(f"no handler for outbox kind {message.kind}", permanent=True)
        return await handler(message)
