"""Telegram Bot API adapters (through aiogram): the ``Notifier`` and the course chat's ``CourseAccess``."""

from adapters.telegram.course_access import TelegramCourseAccess
from adapters.telegram.errors import to_delivery_error
from adapters.telegram.notifier import TelegramNotifier

__all__ = ["TelegramCourseAccess", "TelegramNotifier", "to_delivery_error"]
