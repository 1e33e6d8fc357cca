"""Telegram Bot API adapters (through aiogram): the ``Notifier`` and the course chat's ``CourseAccess``."""

from aiogram.methods.base import Response
from aiogram.types import ChatInviteLink, Message, User

from adapters.telegram.course_access import TelegramCourseAccess
from adapters.telegram.errors import to_delivery_error
from adapters.telegram.notifier import TelegramNotifier

# pydantic keeps parametrised generics such as ``Response[Message]`` in a weak cache, so the
# garbage collector drops them and aiogram rebuilds one (about 4 ms) on a later call. Holding
# the ones every update uses keeps them built (measured by ``make bench``).
_RESPONSE_TYPES = (Response[Message], Response[bool], Response[ChatInviteLink], Response[User])

__all__ = ["TelegramCourseAccess", "TelegramNotifier", "to_delivery_error"]
