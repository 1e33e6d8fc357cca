"""Where the bot keeps conversation state (FSM) and how it serialises one user's updates."""

from __future__ import annotations

from datetime import timedelta

from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

# An abandoned conversation (asked for an email, never answered) is forgotten after a day.
STATE_TTL = timedelta(days=1)


def make_storage(redis_url: str | None, prefix: str = "aimpay:fsm") -> BaseStorage:
    """``RedisStorage`` (shared by every bot instance) when ``redis_url`` is set, else ``MemoryStorage``."""
    if redis_url:
        return RedisStorage.from_url(
            redis_url, key_builder=DefaultKeyBuilder(prefix=prefix), state_ttl=STATE_TTL, data_ttl=STATE_TTL
        )
    return MemoryStorage()


def make_events_isolation(redis_url: str | None, prefix: str = "aimpay:fsm") -> BaseEventIsolation:
    """One user's updates are handled one at a time: across instances through a Redis lock when
    ``redis_url`` is set, else within this process."""
    if redis_url:
        return RedisEventIsolation.from_url(redis_url, key_builder=DefaultKeyBuilder(prefix=prefix))
    return SimpleEventIsolation()
