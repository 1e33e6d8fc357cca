from __future__ import annotations

from application.ports.unit_of_work import UnitOfWork
from application.terms import ShopTerms
from domain.ids import TelegramId


class IsBlacklisted:
    """Whether the bot must ignore this user. The shop's admins never are (nor can be banned)."""

    def __init__(self, uow: UnitOfWork, terms: ShopTerms) -> None:
        self._uow = uow
        self._terms = terms

    async def __call__(self, telegram_id: TelegramId) -> bool:
        if self._terms.is_admin(telegram_id):
            return False
        async with self._uow as uow:
            return await uow.blacklist.contains(telegram_id)
