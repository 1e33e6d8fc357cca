from __future__ import annotations

import enum
import logging

from application.ports.messaging import CourseAccess, DeliveryError
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork
from application.services.outbox import OutboxWriter
from application.terms import ShopTerms
from application.texts import customer_name
from domain.access import AccessGrant
from domain.customer import Customer
from domain.ids import TelegramId

log = logging.getLogger(__name__)


class JoinOutcome(enum.StrEnum):
    NOT_OURS = "not_ours"  # no invite link, or one we never issued: nothing changes
    OWNER_JOINED = "owner_joined"  # the buyer used their own link; it is spent
    ADMIN_JOINED = "admin_joined"  # an admin of the shop used it (spent, but never removed)
    OTHER_PAID_CUSTOMER = "other_paid_customer"  # the link was passed on, but to someone who paid too
    STRANGER_REMOVED = "stranger_removed"  # the link was passed on to someone unpaid (or banned): removed


class RecordCourseJoin:
    """Somebody joined the course chat. If they came by one of our one-time links, the link is
    spent: its grant is revoked (so it is never handed out again) and the link revoked in Telegram,
    because ``member_limit`` only caps members *at once* and would admit another after a leave.
    A joiner who neither owns the link nor paid themselves (or who is blacklisted) is removed
    from the chat and every admin is told. Telegram redelivers updates: a repeated call changes
    nothing more and alerts nobody twice."""

    def __init__(
        self, uow: UnitOfWork, course: CourseAccess, clock: Clock, outbox: OutboxWriter, terms: ShopTerms
    ) -> None:
        self._uow = uow
        self._course = course
        self._clock = clock
        self._outbox = outbox
        self._terms = terms

    async def __call__(self, telegram_id: TelegramId, invite_link: str | None) -> JoinOutcome:
        if not invite_link:
            return JoinOutcome.NOT_OURS
        now = self._clock.now()
        async with self._uow as uow:
            grant = await uow.access_grants.by_invite_link(invite_link)
            if grant is None:
                return JoinOutcome.NOT_OURS
            changed = grant.revoke(now)
            if changed:
                await uow.access_grants.save(grant)
            owner = await uow.customers.get(grant.customer_id)
            outcome = await self._classify(uow, telegram_id, owner)
            if outcome is JoinOutcome.STRANGER_REMOVED:
                changed = await self._alert_admins(uow, grant, telegram_id, owner) or changed
            if changed:
                await uow.commit()
        try:
            await self._course.revoke_invite(invite_link)
        except DeliveryError as exc:  # the grant is revoked; the link's member limit still holds
            log.warning("could not revoke the spent invite link of grant %s: %s", grant.id, exc)
        if outcome is JoinOutcome.STRANGER_REMOVED:
            log.warning("user %s joined the course chat by the link of grant %s; removing them", telegram_id, grant.id)
            try:
                await self._course.remove_member(telegram_id)
            except DeliveryError as exc:  # the admins are told already and can remove them by hand
                log.error("could not remove user %s from the course chat: %s", telegram_id, exc)
        return outcome

    async def _classify(self, uow: UnitOfWork, joiner: TelegramId, owner: Customer | None) -> JoinOutcome:
        if self._terms.is_admin(joiner):
            return JoinOutcome.ADMIN_JOINED
        if await uow.blacklist.contains(joiner):
            return JoinOutcome.STRANGER_REMOVED
        if owner is not None and owner.telegram_id == joiner:
            return JoinOutcome.OWNER_JOINED
        customer = await uow.customers.by_telegram_id(joiner)
        if customer is not None and await uow.purchases.paid_for(customer.id) is not None:
            return JoinOutcome.OTHER_PAID_CUSTOMER
        return JoinOutcome.STRANGER_REMOVED

    async def _alert_admins(
        self, uow: UnitOfWork, grant: AccessGrant, joiner: TelegramId, owner: Customer | None
    ) -> bool:
        """Queues the alert to every admin; ``True`` when any was new."""
        return await self._outbox.admins(
            uow,
            f"grant:{grant.id}:intruder:{joiner}",
            self._terms.admin_ids,
            "admin.link_shared",
            telegram_id=joiner,
            owner=customer_name(owner) if owner is not None else "?",
            owner_id=owner.telegram_id if owner is not None else "?",
        )
