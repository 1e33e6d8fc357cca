"""Looking up a person's standing for the access policy."""

from __future__ import annotations

from application.ports.readers import BlacklistReader
from application.ports.unit_of_work import UnitOfWork
from domain.ids import TelegramId
from domain.policy import AccessPolicy, Standing


class Gatekeeper:
    """The one way a use case learns what the policy needs to know about a person: through a
    reader (a query of its own, for read-only use cases) or inside the caller's transaction."""

    def __init__(self, policy: AccessPolicy, blacklist: BlacklistReader) -> None:
        self.policy = policy
        self._blacklist = blacklist

    def blacklist_changed(self) -> None:
        """Call after committing a change to the blacklist."""
        self._blacklist.invalidate()

    async def standing(self, telegram_id: TelegramId) -> Standing:
        if self.policy.is_admin(telegram_id):  # admins are exempt: no need to ask the database
            return self.policy.standing(telegram_id, blacklisted=False)
        return self.policy.standing(telegram_id, blacklisted=await self._blacklist.is_blacklisted(telegram_id))

    async def standing_in(self, uow: UnitOfWork, telegram_id: TelegramId) -> Standing:
        if self.policy.is_admin(telegram_id):
            return self.policy.standing(telegram_id, blacklisted=False)
        return self.policy.standing(telegram_id, blacklisted=await uow.blacklist.contains(telegram_id))
