"""Issuing a paid buyer's one-time link to the course chat."""

from __future__ import annotations

from collections.abc import Sequence

from application.notices import AccessGranted
from application.ports.messaging import DeliveryError
from application.ports.unit_of_work import UnitOfWork
from application.services.access import AccessIssuer
from application.services.gatekeeper import Gatekeeper
from application.services.outbox import OutboxWriter
from application.terms import ShopTerms
from domain.errors import InvalidValue
from domain.ids import PurchaseId
from domain.outbox import OutboxMessage, access_link_email_key, access_link_telegram_key


class IssueAccessLink:
    """Issues the buyer's link (or finds the live one this message issued before), and returns
    the link's messages by Telegram and by email: they are queued in the same transaction that
    marks this step done, so a crash in between issues no second link."""

    def __init__(
        self, uow: UnitOfWork, access: AccessIssuer, gatekeeper: Gatekeeper, outbox: OutboxWriter, terms: ShopTerms
    ) -> None:
        self._uow = uow
        self._access = access
        self._gatekeeper = gatekeeper
        self._outbox = outbox
        self._terms = terms

    async def __call__(self, message: OutboxMessage) -> Sequence[OutboxMessage]:
        try:
            purchase_id = PurchaseId.parse(message.payload["purchase_id"])
        except (KeyError, InvalidValue) as exc:
            raise DeliveryError(f"outbox {message.key}: malformed payload: {exc}", permanent=True) from exc
        async with self._uow as uow:
            purchase = await uow.purchases.get(purchase_id)
            if purchase is None:
                raise DeliveryError(f"no purchase {purchase_id}", permanent=True)
            customer = await uow.customers.get(purchase.customer_id)
            if customer is None:
                raise DeliveryError(f"no customer {purchase.customer_id}", permanent=True)
            standing = await self._gatekeeper.standing_in(uow, customer.telegram_id)
        if not self._gatekeeper.policy.may_receive_access(standing):
            raise DeliveryError(f"customer {customer.telegram_id} is blacklisted", permanent=True)
        grant = await self._access.current_or_new(purchase)
        notice = AccessGranted(title=self._terms.course_title, link=grant.invite_link, expires=grant.expires_at)
        return (
            self._outbox.telegram_notice(
                access_link_telegram_key(message.key), customer.telegram_id, customer.language, notice
            ),
            self._outbox.email_notice(access_link_email_key(message.key), purchase.email, customer.language, notice),
        )
