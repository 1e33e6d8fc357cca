from __future__ import annotations

from application.errors import NotAuthorized
from application.ports.unit_of_work import UnitOfWork
from application.services.gatekeeper import Gatekeeper
from domain.ids import TelegramId


class UnbanUser:
    """/unban: an admin takes the user off the blacklist. ``False`` when they were not on it."""

    def __init__(self, uow: UnitOfWork, gatekeeper: Gatekeeper) -> None:
        self._uow = uow
        self._gatekeeper = gatekeeper

    async def __call__(self, actor: TelegramId, telegram_id: TelegramId) -> bool:
        async with self._uow as uow:
            if not self._gatekeeper.policy.may_administer(await self._gatekeeper.standing_in(uow, actor)):
                raise NotAuthorized(f"{actor} may not unban")
            removed = await uow.blacklist.remove(telegram_id)
            await uow.commit()
        self._gatekeeper.blacklist_changed()
        return removed
