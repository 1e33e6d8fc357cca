"""Writing messages to the outbox (inside the caller's transaction)."""

from __future__ import annotations

from application.ports.messaging import LinkButton
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.texts import text
from domain.customer import Language
from domain.email import Email
from domain.ids import OutboxMessageId, TelegramId
from domain.outbox import OutboxKind, OutboxMessage


class OutboxWriter:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._clock = clock
        self._ids = ids

    async def _put(self, uow: UnitOfWork, key: str, kind: OutboxKind, payload: dict[str, object]) -> bool:
        message = OutboxMessage(
            id=OutboxMessageId(self._ids.new_uuid()),
            key=key,
            kind=kind,
            payload=payload,
            created_at=self._clock.now(),
        )
        return await uow.outbox.put(message)

    async def telegram(
        self, uow: UnitOfWork, key: str, telegram_id: TelegramId, text: str, buttons: tuple[LinkButton, ...] = ()
    ) -> bool:
        return await self._put(
            uow,
            key,
            OutboxKind.TELEGRAM_MESSAGE,
            {
                "telegram_id": telegram_id.value,
                "text": text,
                "buttons": [{"text": b.text, "url": b.url} for b in buttons],
            },
        )

    async def admins(
        self, uow: UnitOfWork, key: str, admin_ids: tuple[TelegramId, ...], key_text: str, **values: object
    ) -> bool:
        """The text ``key_text`` to every admin, each in their own language when they use the bot
        (Russian otherwise), under ``<key>:admin:<id>``; ``True`` when any of them was new."""
        queued = False
        for admin_id in admin_ids:
            admin = await uow.customers.by_telegram_id(admin_id)
            language = admin.language if admin is not None else Language.RU
            body = text(language, key_text, **values)
            queued = await self.telegram(uow, f"{key}:admin:{admin_id}", admin_id, body) or queued
        return queued

    async def email(self, uow: UnitOfWork, key: str, to: Email, subject: str, text: str, html: str) -> bool:
        return await self._put(
            uow, key, OutboxKind.EMAIL_MESSAGE, {"to": to.value, "subject": subject, "text": text, "html": html}
        )

    async def grant_access(self, uow: UnitOfWork, key: str, purchase_id: str) -> bool:
        return await self._put(uow, key, OutboxKind.GRANT_ACCESS, {"purchase_id": purchase_id})
