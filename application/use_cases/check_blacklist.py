from __future__ import annotations

from application.ports.unit_of_work import UnitOfWork
from domain.ids import TelegramId


class IsBlacklisted:
    """Whether the bot must ignore this user."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, telegram_id: TelegramId) -> bool:
        async with self._uow as uow:
            return await uow.blacklist.contains(telegram_id)
