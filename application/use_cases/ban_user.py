from __future__ import annotations

import enum
from dataclasses import dataclass

from application.errors import NotAuthorized
from application.ports.messaging import CourseAccess, DeliveryError
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork
from application.services.gatekeeper import Gatekeeper
from domain.ids import TelegramId


class BanOutcome(enum.StrEnum):
    BANNED = "banned"
    ALREADY_BANNED = "already_banned"
    REFUSED_ADMIN = "refused_admin"  # an admin of the shop is never banned


@dataclass(frozen=True, slots=True)
class BanResult:
    outcome: BanOutcome
    # What failed, "; "-joined: removing from the course chat (first, as is), revoking each link ("revoke <link>: ...").
    kick_error: str | None = None


class BanUser:
    """/ban: an admin blacklists the Telegram user (known to us or not), revokes their invite
    links and removes them from the course chat. Raises ``NotAuthorized`` unless ``actor`` may
    administer; another admin is never banned (``REFUSED_ADMIN``)."""

    def __init__(self, uow: UnitOfWork, course: CourseAccess, clock: Clock, gatekeeper: Gatekeeper) -> None:
        self._uow = uow
        self._course = course
        self._clock = clock
        self._gatekeeper = gatekeeper

    async def __call__(self, actor: TelegramId, telegram_id: TelegramId) -> BanResult:
        policy = self._gatekeeper.policy
        now = self._clock.now()
        links: list[str] = []
        async with self._uow as uow:
            by = await self._gatekeeper.standing_in(uow, actor)
            if not policy.may_administer(by):
                raise NotAuthorized(f"{actor} may not ban")
            if not policy.may_ban(by, await self._gatekeeper.standing_in(uow, telegram_id)):
                return BanResult(BanOutcome.REFUSED_ADMIN)
            added = await uow.blacklist.add(telegram_id, now)
            customer = await uow.customers.by_telegram_id(telegram_id)
            if customer is not None:
                for grant in await uow.access_grants.active_for(customer.id):
                    grant.revoke(now)
                    await uow.access_grants.save(grant)
                    links.append(grant.invite_link)
            await uow.commit()
        self._gatekeeper.blacklist_changed()
        revoke_errors: list[str] = []
        for link in links:  # each on its own: one failure must not keep the other links, or the kick
            try:
                await self._course.revoke_invite(link)
            except DeliveryError as exc:
                revoke_errors.append(f"revoke {link}: {exc}")
        kick_errors: list[str] = []
        try:
            await self._course.remove_member(telegram_id)
        except DeliveryError as exc:
            kick_errors.append(str(exc))
        error = "; ".join(kick_errors + revoke_errors) or None
        return BanResult(BanOutcome.BANNED if added else BanOutcome.ALREADY_BANNED, error)
