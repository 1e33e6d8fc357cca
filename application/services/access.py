"""Issuing one-time invite links to the course chat."""

from __future__ import annotations

import logging

from application.ports.messaging import CourseAccess, DeliveryError
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.terms import ShopTerms
from domain.access import AccessGrant
from domain.ids import AccessGrantId
from domain.purchase import Purchase

log = logging.getLogger(__name__)


class AccessIssuer:
    def __init__(self, uow: UnitOfWork, access: CourseAccess, clock: Clock, ids: IdGenerator, terms: ShopTerms) -> None:
        self._uow = uow
        self._access = access
        self._clock = clock
        self._ids = ids
        self._terms = terms

    async def current_or_new(self, purchase: Purchase) -> AccessGrant:
        """The purchase's live (unrevoked, unexpired) link, or a new one: delivering the same
        event twice hands out one link."""
        now = self._clock.now()
        async with self._uow as uow:
            for grant in await uow.access_grants.active_for(purchase.customer_id):
                if grant.purchase_id == purchase.id and grant.expires_at > now:
                    return grant
        return await self.replace(purchase)

    async def replace(self, purchase: Purchase) -> AccessGrant:
        """A new link; every earlier link of the customer is revoked, so links cannot be
        collected and handed out. Raises ``DeliveryError`` when Telegram cannot make one."""
        now = self._clock.now()
        grant_id = AccessGrantId(self._ids.new_uuid())
        link = await self._access.create_invite(f"aimpay {str(grant_id)[:8]}", now + self._terms.invite_ttl)
        async with self._uow as uow:
            earlier = list(await uow.access_grants.active_for(purchase.customer_id))
            grant = AccessGrant(
                id=grant_id,
                purchase_id=purchase.id,
                customer_id=purchase.customer_id,
                invite_link=link,
                issued_at=now,
                expires_at=now + self._terms.invite_ttl,
            )
            await uow.access_grants.add(grant)
            for old in earlier:
                old.revoke(now)
                await uow.access_grants.save(old)
            await uow.commit()
        for old in earlier:
            try:
                await self._access.revoke_invite(old.invite_link)
            except DeliveryError as exc:  # it expires anyway; its member limit still holds
                log.warning("could not revoke invite link of grant %s: %s", old.id, exc)
        return grant
