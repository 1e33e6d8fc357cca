"""Reading, apart from changing: queries that return plain read models.

Readers answer lists, counts and summaries; they never load an aggregate for change and never
take a write lock. The repositories of ``application.ports.repositories`` are for changing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.ids import CustomerId, ReferralCode, TelegramId
from domain.money import Currency, Money
from domain.purchase import PurchaseStatus


@dataclass(frozen=True, slots=True)
class ReferralStats:
    """A customer's referral program at a glance."""

    code: ReferralCode
    invited: int  # customers attributed to them
    paid: int  # of those, how many have paid
    balance: Money  # the sum of their ledger entries in the shop's currency


@dataclass(frozen=True, slots=True)
class Referrer:
    """Whose referral code it is."""

    customer_id: CustomerId
    telegram_id: TelegramId


class ReferralReader(Protocol):
    async def referral_stats(self, telegram_id: TelegramId, currency: Currency) -> ReferralStats | None:
        """``None`` when the Telegram user never started the bot."""
        ...

    async def referrer(self, code: ReferralCode) -> Referrer | None:
        """The owner of ``code``; ``None`` for a code nobody has. A code never changes hands, so
        an answer may come from a copy."""
        ...


class BlacklistReader(Protocol):
    """May answer from a copy that lags behind the database by a bounded time (the SQL reader's
    copy is checked at most every second); ``invalidate`` after changing the blacklist here
    makes this process see the change at once."""

    async def is_blacklisted(self, telegram_id: TelegramId) -> bool: ...

    def invalidate(self) -> None:
        """The blacklist was just changed by this process: forget any copy of it."""
        ...


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """The outbox at a glance: the messages neither delivered nor given up on (``pending``), how
    many of those are due (``due``: their next attempt is now or past, whether or not a worker
    holds them), and when the one that has waited longest became due."""

    pending: int
    due: int
    oldest_due_at: datetime | None

    def oldest_due_age(self, now: datetime) -> float:
        """Seconds the longest-waiting due message has been due at ``now``; 0.0 when none is."""
        if self.oldest_due_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_due_at).total_seconds())


class OutboxReader(Protocol):
    async def has_due(self, now: datetime) -> bool:
        """Whether some message is due for delivery (a read that takes no write lock, so an idle
        worker's polling does not queue behind, or hold up, the writers)."""
        ...

    async def backlog(self, now: datetime) -> OutboxBacklog:
        """What waits in the outbox at ``now`` (for monitoring)."""
        ...


class PurchaseStatsReader(Protocol):
    async def purchases_by_status(self) -> Mapping[PurchaseStatus, int]:
        """How many purchases are in each status; every status is present (0 for none)."""
        ...
