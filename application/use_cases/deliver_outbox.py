from __future__ import annotations

import logging
from datetime import timedelta

from application.ports.messaging import DeliveryError, EmailSender, LinkButton, Notifier, OutgoingEmail
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork
from application.services.access import AccessIssuer
from application.services.outbox import OutboxWriter
from application.terms import ShopTerms
from application.texts import as_html, text
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.outbox import OutboxKind, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 50  # with the backoff cap of 10 minutes: about 7 hours of trying
LEASE = timedelta(minutes=2)


class DeliverOutbox:
    """Delivers the messages that are due, one attempt each, and records the outcome: delivered,
    to be tried again later (backoff), or given up on after a permanent error.

    A message is marked delivered right after the provider accepted it; email carries the
    message key as its idempotency key, so a crash in between cannot send a second email.
    Several workers may run: a claimed message is held by one of them for ``LEASE``."""

    def __init__(
        self,
        uow: UnitOfWork,
        notifier: Notifier,
        email: EmailSender,
        access: AccessIssuer,
        outbox: OutboxWriter,
        clock: Clock,
        terms: ShopTerms,
    ) -> None:
        self._uow = uow
        self._notifier = notifier
        self._email = email
        self._access = access
        self._outbox = outbox
        self._clock = clock
        self._terms = terms

    async def __call__(self, limit: int = 50) -> int:
        """Returns how many messages were delivered."""
        async with self._uow as uow:
            due = list(await uow.outbox.claim_due(self._clock.now(), limit, LEASE))
            await uow.commit()
        delivered = 0
        for message in due:
            try:
                await self._deliver(message)
            except DeliveryError as exc:
                message.failed(self._clock.now(), str(exc), permanent=exc.permanent, max_attempts=MAX_ATTEMPTS)
                log.warning("outbox %s (%s) attempt %d failed: %s", message.key, message.kind, message.attempts, exc)
                await self._save(message)
            except Exception as exc:  # a malformed message must not hold up the ones behind it
                message.failed(self._clock.now(), repr(exc), permanent=False, max_attempts=MAX_ATTEMPTS)
                log.exception("outbox %s (%s) attempt %d broke", message.key, message.kind, message.attempts)
                await self._save(message)
            else:
                delivered += 1
        return delivered

    async def _save(self, message: OutboxMessage) -> None:
        async with self._uow as uow:
            await uow.outbox.save(message)
            await uow.commit()

    async def _deliver(self, message: OutboxMessage) -> None:
        payload = message.payload
        if message.kind is OutboxKind.TELEGRAM_MESSAGE:
            buttons = tuple(LinkButton(b["text"], b["url"]) for b in payload.get("buttons", ()))
            await self._notifier.send_message(TelegramId(payload["telegram_id"]), payload["text"], buttons)
            await self._done(message)
        elif message.kind is OutboxKind.EMAIL_MESSAGE:
            email = OutgoingEmail(Email(payload["to"]), payload["subject"], payload["text"], payload["html"])
            await self._email.send(email, idempotency_key=message.key)
            await self._done(message)
        elif message.kind is OutboxKind.GRANT_ACCESS:
            await self._grant_access(message)
        else:  # pragma: no cover - OutboxKind is closed
            raise DeliveryError(f"unknown outbox kind {message.kind}", permanent=True)

    async def _done(self, message: OutboxMessage) -> None:
        message.delivered(self._clock.now())
        async with self._uow as uow:
            await uow.outbox.save(message)
            await uow.commit()

    async def _grant_access(self, message: OutboxMessage) -> None:
        """Issues the buyer's link, then queues it to them by Telegram and by email in the same
        transaction that marks this step done."""
        async with self._uow as uow:
            purchase = await uow.purchases.get(PurchaseId.parse(message.payload["purchase_id"]))
            if purchase is None:
                raise DeliveryError(f"no purchase {message.payload['purchase_id']}", permanent=True)
            customer = await uow.customers.get(purchase.customer_id)
            assert customer is not None
            banned = await uow.blacklist.contains(customer.telegram_id)
        if banned:
            raise DeliveryError(f"customer {customer.telegram_id} is blacklisted", permanent=True)
        grant = await self._access.current_or_new(purchase)
        lang = customer.language
        values = {
            "title": self._terms.course_title,
            "link": grant.invite_link,
            "expires": grant.expires_at.strftime("%Y-%m-%d %H:%M"),
        }
        message.delivered(self._clock.now())
        async with self._uow as uow:
            await self._outbox.telegram(
                uow,
                f"{message.key}:telegram",
                customer.telegram_id,
                text(lang, "access.telegram", **values),
                (LinkButton(text(lang, "button.join"), grant.invite_link),),
            )
            await self._outbox.email(
                uow,
                f"{message.key}:email",
                purchase.email,
                text(lang, "access.email.subject", **values),
                text(lang, "access.email.text", **values),
                as_html(text(lang, "access.email.text", **values)),
            )
            await uow.outbox.save(message)
            await uow.commit()
