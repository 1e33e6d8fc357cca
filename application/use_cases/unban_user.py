from __future__ import annotations

from application.ports.unit_of_work import UnitOfWork
from domain.ids import TelegramId


class UnbanUser:
    """/unban: takes the user off the blacklist. ``False`` when they were not on it."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, telegram_id: TelegramId) -> bool:
        async with self._uow as uow:
            removed = await uow.blacklist.remove(telegram_id)
            await uow.commit()
        return removed
