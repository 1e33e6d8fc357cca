from __future__ import annotations

from application.services.gatekeeper import Gatekeeper
from domain.ids import TelegramId


class MayUseBot:
    """Whether the bot answers this person at all (the access policy: admins always, anybody
    else unless blacklisted). A read: it takes no write lock."""

    def __init__(self, gatekeeper: Gatekeeper) -> None:
        self._gatekeeper = gatekeeper

    async def __call__(self, telegram_id: TelegramId) -> bool:
        return self._gatekeeper.policy.may_use_bot(await self._gatekeeper.standing(telegram_id))
