"""The bot's composition: a fresh Dispatcher with its routers and middlewares."""

from __future__ import annotations

from aiogram import Bot, Dispatcher, Router
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from adapters.catalog import MessageCatalog
from domain.customer import Language
from entrypoints.bot.filters import InPrivateChat
from entrypoints.bot.handlers import admin, checkout, course_chat, errors, fallback, menu
from entrypoints.bot.handlers import sandbox as sandbox_checkout
from entrypoints.bot.middlewares import BlacklistMiddleware, ThrottlingMiddleware
from entrypoints.bot.storage import LeanEventIsolation, LeanMemoryStorage
from entrypoints.bot.throttling import MemoryThrottle, Throttle

DEFAULT_RATE = 10  # updates ...
DEFAULT_PERIOD = 10.0  # ... per this many seconds, per user


# The commands in Telegram's menu, in this order; their descriptions are ``command.<name>`` in the catalog.
COMMANDS = ("start", "buy", "ref", "help", "cancel")


def build_dispatcher(
    storage: BaseStorage | None = None,
    throttling: Throttle | None = None,
    events_isolation: BaseEventIsolation | None = None,
    catalog: MessageCatalog | None = None,
    *,
    sandbox: bool = False,
) -> Dispatcher:
    """A new Dispatcher with new routers (a Router joins one Dispatcher only).

    Only private chats are served (the bot also sits in the course chat and must stay quiet
    there). In them every message and button press passes the blacklist, then the rate limit.
    From the course chat only joins are handled (``chat_member`` updates): they spend the link.
    Handlers take their use cases from dishka: call
    ``setup_dishka(container, router=dp, auto_inject=True)`` on the result; the handlers are
    decorated with ``@inject`` already, so ``auto_inject`` is optional.
    ``events_isolation`` (default: in-process) handles one user's updates one at a time.
    ``catalog`` (default: the shipped one) is what the bot says; handlers receive it as ``catalog``.
    ``sandbox`` (``AIMPAY_PAYMENTS=sandbox``) adds the sandbox's checkout, answering the deep links
    of ``adapters.sandbox`` (``/start sandboxpay_<id>``, ``/start sandboxcourse_<token>``) before
    /start's menu sees them; the container must then provide ``SandboxPaymentGateway``.
    A handler may wake the outbox worker put in the dispatcher as ``outbox_worker``.
    """
    dp = Dispatcher(
        storage=storage if storage is not None else LeanMemoryStorage(),
        events_isolation=events_isolation if events_isolation is not None else LeanEventIsolation(),
        name="aimpay",
        catalog=catalog if catalog is not None else MessageCatalog.load(),
    )
    private = Router(name="private")
    private.message.filter(InPrivateChat())
    private.callback_query.filter(InPrivateChat())

    guarded = Router(name="guarded")
    throttle = throttling if throttling is not None else MemoryThrottle(DEFAULT_RATE, DEFAULT_PERIOD)
    for observer in (guarded.message, guarded.callback_query):
        observer.outer_middleware(BlacklistMiddleware())
        observer.outer_middleware(ThrottlingMiddleware(throttle))
    if sandbox:
        guarded.include_router(sandbox_checkout.router())
    guarded.include_routers(
        menu.router(), checkout.router(), admin.router(), checkout.email_router(), fallback.router()
    )

    private.include_router(guarded)
    dp.include_routers(errors.router(), private, course_chat.router())
    return dp


async def set_bot_commands(bot: Bot, catalog: MessageCatalog, request_timeout: int | None = None) -> None:
    """Publishes the command list of Telegram's menu button, in Russian (the default) and English."""
    scope = BotCommandScopeAllPrivateChats()
    for language in Language:
        await bot.set_my_commands(
            [BotCommand(command=c, description=catalog.text(language, f"command.{c}")) for c in COMMANDS],
            scope=scope,
            language_code=None if language is Language.RU else language.value,
            request_timeout=request_timeout,
        )
