"""Pacing what the bot sends: Telegram takes about 30 messages a second from one bot and about one
a second into one chat, and answers more with 429 and ``retry_after``.

A pacer hands out send slots. ``reserve(chat_id)`` takes one and returns 0.0 when both budgets
allow a message now: at most ``rate`` in any one-second window in all (a sliding window over the
grants of the last second) and at most one a second into the chat. Otherwise it takes nothing and
returns how many seconds until it would be allowed. When the chat is what holds a message back,
the wait is to the chat's first slot not yet promised to another message put off before, and
that slot is promised: a backlog for one busy chat (the admins' notes of a big sale) is spread
one a second into the future instead of all coming due at once again and crowding out the
messages of every other chat. ``pause(seconds)`` stops every chat for that
long (after a 429). ``MemoryPacer`` paces one process; ``RedisPacer`` paces every instance that
shares the Redis, deciding in one Lua script on Redis's own clock, and falls back to a
``MemoryPacer`` (this process's share only) while Redis is away: pacing protects the bot, it
must not silence it.
"""

from __future__ import annotations

import enum
import itertools
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

MAX_RATE = 30  # Telegram's limit for one bot, messages a second
WINDOW_US = 1_000_000  # the window both limits count in, microseconds (also: one message a second into a chat)


class Cause(enum.StrEnum):
    """What holds a message back."""

    PAUSE = "pause"  # Telegram said 429: nobody sends for a while
    CHAT = "chat"  # the chat had its one message this second
    RATE = "rate"  # the bot's whole budget for this second is spent


@dataclass(frozen=True, slots=True)
class Reservation:
    """A pacer's answer. ``wait`` 0.0: the slot is taken, send now. Otherwise nothing was taken
    and ``wait`` seconds from now it would be allowed (if nobody takes the slot first; whole
    microseconds); ``cause`` says why (if several hold it
    back: a pause before the chat before the rate). ``at`` is when it was decided, in
    microseconds on the pacer's clock (Redis's ``TIME`` for ``RedisPacer``)."""

    wait: float
    cause: Cause | None
    at: int

    @property
    def granted(self) -> bool:
        return self.cause is None


class TelegramPacer(Protocol):
    rate: int

    async def try_reserve(self, chat_id: int) -> Reservation:
        """Takes a slot for one message into ``chat_id`` if both budgets allow it now."""
        ...

    async def reserve(self, chat_id: int) -> float:
        """``try_reserve(chat_id).wait``: 0.0 when the slot is taken, else seconds to wait."""
        ...

    async def pause(self, seconds: float) -> None:
        """Nobody sends (any chat, any instance sharing the pacer) for ``seconds``."""
        ...

    async def close(self) -> None: ...


def check_rate(rate: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= MAX_RATE:
        raise ValueError(f"rate must be a whole number of messages a second, 1-{MAX_RATE}, got {rate!r}")


def _seconds(us: int) -> float:
    return us / 1_000_000


def _verdict(now: int, pause_us: int, chat_us: int, rate_us: int) -> Reservation:
    """The reservation for these waits (microseconds; 0 or less: not held back by that)."""
    wait = max(pause_us, chat_us, rate_us)
    if wait <= 0:
        return Reservation(0.0, None, now)
    cause = Cause.PAUSE if pause_us > 0 else Cause.CHAT if chat_us > 0 else Cause.RATE
    return Reservation(_seconds(wait), cause, now)


class MemoryPacer:
    """Paces this process only. ``clock`` is monotonic seconds (a test passes a fake one)."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        check_rate(rate)
        self.rate = rate
        self._clock = clock
        self._grants: deque[int] = deque()  # the grants of the last second, oldest first
        self._chats: dict[int, int] = {}  # chat -> its last grant
        self._promised: dict[int, int] = {}  # chat -> the latest slot promised to a message put off
        self._paused_until = 0
        self._swept_at = self._now()

    def _now(self) -> int:
        return round(self._clock() * 1_000_000)

    def take(self, chat_id: int) -> Reservation:
        """``try_reserve`` without awaiting (``RedisPacer`` falls back on it)."""
        now = self._now()
        while self._grants and now - self._grants[0] >= WINDOW_US:
            self._grants.popleft()
        if now - self._swept_at >= WINDOW_US:
            self._chats = {chat: at for chat, at in self._chats.items() if now - at < WINDOW_US}
            self._promised = {chat: at for chat, at in self._promised.items() if at > now}
            self._swept_at = now
        pause_us = self._paused_until - now
        last = self._chats.get(chat_id)
        chat_us = WINDOW_US - (now - last) if last is not None else 0
        rate_us = 0
        if len(self._grants) >= self.rate:  # the oldest grant that must leave the window first
            rate_us = WINDOW_US - (now - self._grants[len(self._grants) - self.rate])
        verdict = _verdict(now, pause_us, chat_us, rate_us)
        if verdict.granted:
            self._grants.append(now)
            self._chats[chat_id] = now
        elif verdict.cause is Cause.CHAT and last is not None:
            horizon = max(last, self._promised.get(chat_id, last))
            slot = max(horizon + WINDOW_US, now + round(verdict.wait * 1_000_000))
            self._promised[chat_id] = slot
            verdict = Reservation(_seconds(slot - now), Cause.CHAT, now)
        return verdict

    async def try_reserve(self, chat_id: int) -> Reservation:
        return self.take(chat_id)

    async def reserve(self, chat_id: int) -> float:
        return self.take(chat_id).wait

    def pause_now(self, seconds: float) -> None:
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._now() + math.ceil(seconds * 1_000_000))

    async def pause(self, seconds: float) -> None:
        self.pause_now(seconds)

    async def close(self) -> None:
        self._grants.clear()
        self._chats.clear()


# One decision, atomically, on Redis's clock. Time is in microseconds from TIME; numbers go into
# Redis as strings built from TIME's own digits (a Lua number would be printed with 14 digits).
#   KEYS[1] the grants of the last second: a sorted set, score = time granted
#   KEYS[2] the chat's last grant          KEYS[3] paused until
#   KEYS[4] the latest slot of the chat promised to a message put off
#   ARGV[1] rate   ARGV[2] window (us)   ARGV[3] a member name unique to this call   ARGV[4] key TTL (ms)
# Returns {wait_us, cause, now_us}: cause 0 taken, 1 pause, 2 chat, 3 rate.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_text = t[1] .. string.format('%06d', tonumber(t[2]))
local rate = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait, cause = 0, 0
local paused = redis.call('GET', KEYS[3])
if paused and tonumber(paused) > now then
    wait, cause = tonumber(paused) - now, 1
end
local last = redis.call('GET', KEYS[2])
if last and now - tonumber(last) < window then
    local w = window - (now - tonumber(last))
    if w > wait then wait = w end
    if cause == 0 then cause = 2 end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local count = redis.call('ZCARD', KEYS[1])
if count >= rate then
    local oldest = redis.call('ZRANGE', KEYS[1], count - rate, count - rate, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
    if cause == 0 then cause = 3 end
end
if cause == 2 then
    local horizon = tonumber(last)
    local promised = redis.call('GET', KEYS[4])
    if promised and tonumber(promised) > horizon then horizon = tonumber(promised) end
    local slot = horizon + window
    if slot < now + wait then slot = now + wait end
    redis.call('SET', KEYS[4], string.format('%d', slot), 'PX', string.format('%d', math.ceil((slot - now) / 1000) + tonumber(ARGV[4])))
    return {slot - now, cause, now}
end
if cause ~= 0 then
    return {wait, cause, now}
end
redis.call('ZADD', KEYS[1], now_text, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], now_text, 'PX', ARGV[4])
return {0, 0, now}
"""

# KEYS[1] paused until; ARGV[1] the pause (us). Extends a pause, never shortens one.
# Returns the time paused until (us).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(ARGV[1])
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= now + pause then
    return tonumber(current)
end
redis.call('SET', KEYS[1], string.format('%d', now + pause), 'PX', string.format('%d', math.ceil(pause / 1000) + 1000))
return now + pause
"""

_CAUSES = {1: Cause.PAUSE, 2: Cause.CHAT, 3: Cause.RATE}
_KEY_TTL_MS = 2 * WINDOW_US // 1000  # longer than a window: a key is never gone while it still counts


class RedisPacer:
    """Paces every instance sharing the Redis: keys ``{prefix}:grants`` (the last second's grants),
    ``{prefix}:chat:{chat_id}``, ``{prefix}:promised:{chat_id}`` and ``{prefix}:pause``, each
    expiring by itself. If Redis fails,
    a warning is logged (once until it answers again) and this process paces on its own
    (``MemoryPacer``: the whole rate for this process, one message a second per chat)."""

    def __init__(self, redis: Redis, rate: int, prefix: str = "aimpay:pace", owns_client: bool = True) -> None:
        check_rate(rate)
        self.rate = rate
        self.prefix = prefix
        self._redis = redis
        self._owns_client = owns_client
        self._reserve = redis.register_script(_RESERVE)
        self._pause = redis.register_script(_PAUSE)
        self._local = MemoryPacer(rate)
        self._token = secrets.token_hex(6)  # grants are named {token}:{n}: unique across instances
        self._calls = itertools.count()
        self._failing = False

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def _failed(self, what: str, exc: BaseException) -> None:
        if not self._failing:
            log.warning("Telegram pacing on this process alone, Redis failed (%s): %s", what, exc)
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("Telegram pacing shared through Redis again")
        self._failing = False

    async def try_reserve(self, chat_id: int) -> Reservation:
        keys = [
            self.key("grants"),
            self.key(f"chat:{chat_id}"),
            self.key("pause"),
            self.key(f"promised:{chat_id}"),
        ]
        args: list[int | str] = [self.rate, WINDOW_US, f"{self._token}:{next(self._calls)}", _KEY_TTL_MS]
        try:
            wait_us, cause, now = (int(v) for v in await self._reserve(keys=keys, args=args))
        except (RedisError, OSError) as exc:
            self._failed("reserve", exc)
            return self._local.take(chat_id)
        self._recovered()
        if cause == 0:
            return Reservation(0.0, None, now)
        return Reservation(_seconds(wait_us), _CAUSES[cause], now)

    async def reserve(self, chat_id: int) -> float:
        return (await self.try_reserve(chat_id)).wait

    async def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self._local.pause_now(seconds)  # holds even if Redis does not
        try:
            await self._pause(keys=[self.key("pause")], args=[math.ceil(seconds * 1_000_000)])
        except (RedisError, OSError) as exc:
            self._failed("pause", exc)

    async def close(self) -> None:
        await self._local.close()
        if self._owns_client:
            await self._redis.aclose()


def make_pacer(redis_url: str | None, rate: int, prefix: str = "aimpay:pace") -> TelegramPacer:
    """``RedisPacer`` when ``redis_url`` is set, else ``MemoryPacer``."""
    if redis_url:
        client = Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return RedisPacer(client, rate, prefix=prefix)
    return MemoryPacer(rate)
