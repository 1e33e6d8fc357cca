"""Where the bot keeps conversation state (FSM) and how it serialises one user's updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

# An abandoned conversation (asked for an email, never answered) is forgotten after a day.
STATE_TTL = timedelta(days=1)


class LeanMemoryStorage(BaseStorage):
    """Conversation state in this process's memory, keeping an entry only for a user who is in the
    middle of a conversation (a state or some data). aiogram's ``MemoryStorage`` makes an entry
    for every user it is ever asked about and never drops it: a bot behind a busy channel grows
    with its whole audience, and so does every full garbage collection."""

    def __init__(self) -> None:
        self._states: dict[StorageKey, str] = {}
        self._data: dict[StorageKey, dict[str, Any]] = {}

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        if value is None:
            self._states.pop(key, None)
        else:
            self._states[key] = value

    async def get_state(self, key: StorageKey) -> str | None:
        return self._states.get(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, got {type(data).__name__}")
        if data:
            self._data[key] = dict(data)
        else:
            self._data.pop(key, None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict(self._data.get(key, {}))

    def conversations(self) -> int:
        """How many users are in the middle of a conversation."""
        return len(self._states.keys() | self._data.keys())

    async def close(self) -> None:
        self._states.clear()
        self._data.clear()


class LeanEventIsolation(BaseEventIsolation):
    """One user's updates one at a time, in this process; a user's lock exists only while one of
    their updates is being handled (aiogram's ``SimpleEventIsolation`` keeps one per user forever)."""

    def __init__(self) -> None:
        self._locks: dict[StorageKey, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def held(self) -> int:
        """How many users have an update being handled."""
        return len(self._locks)

    async def close(self) -> None:
        self._locks.clear()


def make_storage(redis_url: str | None, prefix: str = "aimpay:fsm") -> BaseStorage:
    """``RedisStorage`` (shared by every bot instance) when ``redis_url`` is set, else
    ``LeanMemoryStorage``."""
    if redis_url:
        return RedisStorage.from_url(
            redis_url, key_builder=DefaultKeyBuilder(prefix=prefix), state_ttl=STATE_TTL, data_ttl=STATE_TTL
        )
    return LeanMemoryStorage()


def make_events_isolation(redis_url: str | None, prefix: str = "aimpay:fsm") -> BaseEventIsolation:
    """One user's updates are handled one at a time: across instances through a Redis lock when
    ``redis_url`` is set, else within this process."""
    if redis_url:
        return RedisEventIsolation.from_url(redis_url, key_builder=DefaultKeyBuilder(prefix=prefix))
    return LeanEventIsolation()
