from __future__ import annotations

import enum
import logging

from application.bus import MessageBus
from application.ports.messaging import CourseAccess, DeliveryError
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork
from application.services.gatekeeper import Gatekeeper
from domain.ids import TelegramId
from domain.policy import JoinVerdict

log = logging.getLogger(__name__)


class JoinOutcome(enum.StrEnum):
    NOT_OURS = "not_ours"  # no invite link, or one we never issued: nothing changes
    OWNER_JOINED = "owner_joined"  # the buyer used their own link; it is spent
    ADMIN_JOINED = "admin_joined"  # an admin of the shop used it (spent, but never removed)
    OTHER_PAID_CUSTOMER = "other_paid_customer"  # the link was passed on, but to someone who paid too
    STRANGER_REMOVED = "stranger_removed"  # the link was passed on to someone unpaid (or banned): removed


_OUTCOMES = {
    JoinVerdict.OWNER: JoinOutcome.OWNER_JOINED,
    JoinVerdict.ADMIN: JoinOutcome.ADMIN_JOINED,
    JoinVerdict.OTHER_PAID_CUSTOMER: JoinOutcome.OTHER_PAID_CUSTOMER,
    JoinVerdict.STRANGER: JoinOutcome.STRANGER_REMOVED,
}


class RecordCourseJoin:
    """Somebody joined the course chat. If they came by one of our one-time links, the link is
    spent: its grant is revoked (so it is never handed out again) and the link revoked in Telegram,
    because ``member_limit`` only caps members *at once* and would admit another after a leave.
    Whether the joiner may stay is the access policy's call (``AccessPolicy.course_join``); a
    stranger is removed from the chat and the grant records ``CourseLinkPassedOn`` (the admins
    are told). Telegram redelivers updates: a repeated call changes nothing more and alerts
    nobody twice."""

    def __init__(
        self, uow: UnitOfWork, course: CourseAccess, clock: Clock, gatekeeper: Gatekeeper, bus: MessageBus
    ) -> None:
        self._uow = uow
        self._course = course
        self._clock = clock
        self._gatekeeper = gatekeeper
        self._bus = bus

    async def __call__(self, telegram_id: TelegramId, invite_link: str | None) -> JoinOutcome:
        if not invite_link:
            return JoinOutcome.NOT_OURS
        now = self._clock.now()
        async with self._uow as uow:
            grant = await uow.access_grants.by_invite_link(invite_link)
            if grant is None:
                return JoinOutcome.NOT_OURS
            changed = grant.revoke(now)
            owner = await uow.customers.get(grant.customer_id)
            joiner = await uow.customers.by_telegram_id(telegram_id)
            verdict = self._gatekeeper.policy.course_join(
                await self._gatekeeper.standing_in(uow, telegram_id),
                owns_link=owner is not None and owner.telegram_id == telegram_id,
                has_paid=joiner is not None and await uow.purchases.paid_for(joiner.id) is not None,
            )
            if verdict is JoinVerdict.STRANGER:
                grant.passed_on(telegram_id)
            if changed:
                await uow.access_grants.save(grant)
            if changed or grant.events:  # a redelivered join of the owner writes nothing
                await self._bus.commit(uow, grant)
        outcome = _OUTCOMES[verdict]
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
