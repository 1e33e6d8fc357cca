"""Telegram Bot API adapters (through aiogram): the ``Notifier``, the course chat's ``CourseAccess``, and
the pacers that keep what the bot sends within Telegram's limits."""

from aiogram.methods.base import Response
from aiogram.types import ChatInviteLink, Message, User

from adapters.telegram.course_access import TelegramCourseAccess
from adapters.telegram.errors import to_delivery_error
from adapters.telegram.notifier import TelegramNotifier
from adapters.telegram.pacing import MemoryPacer, RedisPacer, Reservation, TelegramPacer, make_pacer

# pydantic keeps parametrised generics such as ``Response[Message]`` in a weak cache, so the
# garbage collector drops them and aiogram rebuilds one (about 4 ms) on a later call. Holding
# the ones every update uses keeps them built (measured by ``make bench``).
_RESPONSE_TYPES = (Response[Message], Response[bool], Response[ChatInviteLink], Response[User])

__all__ = [
    "MemoryPacer",
    "RedisPacer",
    "Reservation",
    "TelegramCourseAccess",
    "TelegramNotifier",
    "TelegramPacer",
    "make_pacer",
    "to_delivery_error",
]
