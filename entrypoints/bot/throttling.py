"""Per-user rate limits for the bot: ``rate`` updates per ``period`` seconds.

A window opens at a user's first update and lasts ``period`` seconds. Within it the first
``rate`` updates pass, the next one is answered with a single warning, and the rest are dropped
silently. ``MemoryThrottle`` serves one process; ``RedisThrottle`` shares the counts between
every bot instance behind the webhook.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    ALLOW = "allow"
    WARN = "warn"  # the first update over the limit: tell the user once
    DROP = "drop"


def _verdict(count: int, rate: int) -> Verdict:
    if count <= rate:
        return Verdict.ALLOW
    return Verdict.WARN if count == rate + 1 else Verdict.DROP


def _check_limits(rate: int, period: float) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise ValueError(f"rate must be a positive integer, got {rate!r}")
    if not period > 0:
        raise ValueError(f"period must be above zero seconds, got {period!r}")


class Throttle(Protocol):
    async def hit(self, user_id: int) -> Verdict:
        """Counts one update of ``user_id`` and says what to do with it."""
        ...

    async def close(self) -> None: ...


@dataclass
class _Window:
    opened_at: float
    count: int


class MemoryThrottle:
    """Counts in this process's memory; expired windows are swept once per period."""

    def __init__(self, rate: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        _check_limits(rate, period)
        self.rate = rate
        self.period = period
        self._clock = clock
        self._windows: dict[int, _Window] = {}
        self._swept_at = clock()

    async def hit(self, user_id: int) -> Verdict:
        now = self._clock()
        if now - self._swept_at >= self.period:
            self._windows = {k: w for k, w in self._windows.items() if now - w.opened_at < self.period}
            self._swept_at = now
        window = self._windows.get(user_id)
        if window is None or now - window.opened_at >= self.period:
            window = self._windows[user_id] = _Window(now, 0)
        window.count += 1
        return _verdict(window.count, self.rate)

    async def close(self) -> None:
        self._windows.clear()


# INCR and the expiry in one step: a window can never be left without a TTL.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""


class RedisThrottle:
    """Counts in Redis (one key per user, ``{prefix}:{user_id}``, expiring with its window).
    If Redis fails, updates pass (the limit protects the bot, it must not silence it)."""

    def __init__(
        self, redis: Redis, rate: int, period: float, prefix: str = "aimpay:throttle", owns_client: bool = True
    ) -> None:
        _check_limits(rate, period)
        self.rate = rate
        self.period = period
        self.prefix = prefix
        self._redis = redis
        self._owns_client = owns_client
        self._script = redis.register_script(_HIT)

    def key(self, user_id: int) -> str:
        return f"{self.prefix}:{user_id}"

    async def hit(self, user_id: int) -> Verdict:
        try:
            count = int(await self._script(keys=[self.key(user_id)], args=[max(1, round(self.period * 1000))]))
        except (RedisError, OSError) as exc:
            log.warning("throttling skipped, Redis failed: %s", exc)
            return Verdict.ALLOW
        return _verdict(count, self.rate)

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


def make_throttling(redis_url: str | None, rate: int, period: float, prefix: str = "aimpay:throttle") -> Throttle:
    """``RedisThrottle`` when ``redis_url`` is set, else ``MemoryThrottle``."""
    if redis_url:
        return RedisThrottle(Redis.from_url(redis_url), rate, period, prefix=prefix)
    return MemoryThrottle(rate, period)
