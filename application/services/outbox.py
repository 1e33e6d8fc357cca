"""Building outbox messages and queueing them inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from application.notices import Notice, encode_notice
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from domain.customer import Language
from domain.email import Email
from domain.ids import OutboxMessageId, PurchaseId, TelegramId
from domain.outbox import OutboxKind, OutboxMessage, access_grant_key, admin_copy_key
from domain.policy import AccessPolicy


class OutboxWriter:
    def __init__(self, clock: Clock, ids: IdGenerator, policy: AccessPolicy) -> None:
        self._clock = clock
        self._ids = ids
        self._policy = policy

    def message(self, key: str, kind: OutboxKind, payload: dict[str, Any]) -> OutboxMessage:
        return OutboxMessage(
            id=OutboxMessageId(self._ids.new_uuid()),
            key=key,
            kind=kind,
            payload=payload,
            created_at=self._clock.now(),
        )

    def telegram_notice(self, key: str, to: TelegramId, language: Language, notice: Notice) -> OutboxMessage:
        payload = {"telegram_id": to.value, "language": language.value, "notice": encode_notice(notice)}
        return self.message(key, OutboxKind.TELEGRAM_NOTICE, payload)

    def email_notice(self, key: str, to: Email, language: Language, notice: Notice) -> OutboxMessage:
        payload = {"to": to.value, "language": language.value, "notice": encode_notice(notice)}
        return self.message(key, OutboxKind.EMAIL_NOTICE, payload)

    def grant_access(self, purchase_id: PurchaseId) -> OutboxMessage:
        return self.message(access_grant_key(purchase_id), OutboxKind.GRANT_ACCESS, {"purchase_id": str(purchase_id)})

    async def put(self, uow: UnitOfWork, *messages: OutboxMessage) -> bool:
        """Queues the messages; ``True`` when any of them was new (a key seen before is skipped)."""
        queued = False
        for message in messages:
            queued = await uow.outbox.put(message) or queued
        return queued

    async def to_admins(self, uow: UnitOfWork, key: str, notice: Notice) -> bool:
        """``notice`` to every admin, each in their own language when they use the bot (Russian
        otherwise), under ``admin_copy_key(key, admin)``; ``True`` when any of them was new."""
        messages = []
        for admin_id in self._policy.admin_ids:
            admin = await uow.customers.by_telegram_id(admin_id)
            language = admin.language if admin is not None else Language.RU
            messages.append(self.telegram_notice(admin_copy_key(key, admin_id), admin_id, language, notice))
        return await self.put(uow, *messages)
