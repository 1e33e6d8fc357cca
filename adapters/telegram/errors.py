"""Telegram failures translated into the messaging port's ``DeliveryError`` at the adapter edge."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from application.ports.messaging import DeliveryError

# Bad requests that a later attempt can get past: Telegram's own flood control, or (for the
# course chat) the bot's missing rights or a wrong chat id, which an operator fixes; marking
# them permanent would lose a paid customer's access.
FLOOD_BAD_REQUESTS: tuple[str, ...] = ("too many requests", "flood", "retry later")
CHAT_SETUP_BAD_REQUESTS: tuple[str, ...] = (
    "chat not found",
    "not enough rights",
    "chat_admin_required",
    "need administrator rights",
    "have no rights",
    "bot is not a member",
    "not a member of the",
)


def _mentions(description: str, fragments: Iterable[str]) -> bool:
    lowered = description.lower()
    return any(fragment in lowered for fragment in fragments)


def to_delivery_error(
    exc: BaseException, action: str, transient_bad_requests: Iterable[str] = FLOOD_BAD_REQUESTS
) -> DeliveryError:
    """The ``DeliveryError`` for a failed Telegram call. Permanent: the user blocked the bot or
    Telegram refused the request itself (bad request, too large, chat migrated). Everything
    else (flood control, network, 5xx, timeouts, bad token, unknown) may pass later."""
    if isinstance(exc, TelegramRetryAfter):
        return DeliveryError(f"{action}: Telegram flood control, retry after {exc.retry_after} s")
    if isinstance(exc, TelegramForbiddenError):
        return DeliveryError(f"{action}: {exc.message}", permanent=True)
    if isinstance(exc, TelegramBadRequest):
        return DeliveryError(f"{action}: {exc.message}", permanent=not _mentions(exc.message, transient_bad_requests))
    if isinstance(exc, (TelegramEntityTooLarge, TelegramMigrateToChat)):
        return DeliveryError(f"{action}: {exc.message}", permanent=True)
    if isinstance(exc, (TelegramNetworkError, TelegramServerError)):
        return DeliveryError(f"{action}: Telegram unreachable: {exc.message}")
    if isinstance(exc, TelegramAPIError):  # 401/404/409: our configuration, fixable by an operator
        return DeliveryError(f"{action}: Telegram error: {exc.message}")
    if isinstance(exc, ClientDecodeError):
        return DeliveryError(f"{action}: Telegram answered something unreadable")
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"{action}: Telegram did not answer in time")
    return DeliveryError(f"{action}: {type(exc).__name__}: {exc}")


@asynccontextmanager
async def translated(action: str, transient_bad_requests: Iterable[str] = FLOOD_BAD_REQUESTS) -> AsyncIterator[None]:
    """Runs the block, turning any aiogram failure (or a timeout) into ``DeliveryError``."""
    try:
        yield
    except (AiogramError, TimeoutError, OSError) as exc:
        raise to_delivery_error(exc, action, transient_bad_requests) from exc
