"""The Telegram bot (aiogram 3): ``build_dispatcher`` and its storage and rate-limit helpers."""

from entrypoints.bot.dispatcher import DEFAULT_PERIOD, DEFAULT_RATE, build_dispatcher, set_bot_commands
from entrypoints.bot.storage import make_events_isolation, make_storage
from entrypoints.bot.throttling import MemoryThrottle, RedisThrottle, Throttle, Verdict, make_throttling

__all__ = [
    "DEFAULT_PERIOD",
    "DEFAULT_RATE",
    "MemoryThrottle",
    "RedisThrottle",
    "Throttle",
    "Verdict",
    "build_dispatcher",
    "make_events_isolation",
    "make_storage",
    "make_throttling",
    "set_bot_commands",
]
