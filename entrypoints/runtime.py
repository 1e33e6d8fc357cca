"""Assembling and running the processes: the HTTP app (``serve``) and the polling bot (``bot``)."""

from __future__ import annotations

import logging

import uvicorn
from aiogram import Bot, Dispatcher
from dishka import AsyncContainer
from dishka.integrations.aiogram import setup_dishka as setup_aiogram_dishka
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from adapters.catalog import MessageCatalog
from adapters.sql import current_revision, head_revision, upgrade_to_head
from entrypoints.bot.dispatcher import build_dispatcher, set_bot_commands
from entrypoints.bot.storage import make_events_isolation, make_storage
from entrypoints.bot.throttling import make_throttling
from entrypoints.config import ConfigError, Settings
from entrypoints.container import make_container
from entrypoints.http.app import create_app, settle_memory
from entrypoints.outbox_worker import OutboxWorker

log = logging.getLogger(__name__)


async def migrate(settings: Settings) -> None:
    await upgrade_to_head(settings.database_url)
    log.info("database is at the latest schema")


async def check_schema(container: AsyncContainer) -> None:
    """Refuses to start on a database that is not at the latest schema (one clear line)."""
    try:
        current = await current_revision(await container.get(AsyncEngine))
    except Exception as exc:  # noqa: BLE001 - any driver failure is reported as one line
        raise ConfigError(f"AIMPAY_DATABASE_URL: cannot open the database ({type(exc).__name__}: {exc})") from None
    if current != head_revision():
        raise ConfigError(
            f"AIMPAY_DATABASE_URL: the database is at schema {current or 'none'}, not {head_revision()}: run `aimpay migrate`"
        )


async def make_dispatcher(container: AsyncContainer, settings: Settings) -> Dispatcher:
    dispatcher = build_dispatcher(
        storage=make_storage(settings.redis_url),
        throttling=make_throttling(settings.redis_url, settings.throttle_rate, settings.throttle_period),
        events_isolation=make_events_isolation(settings.redis_url),
        catalog=await container.get(MessageCatalog),
    )
    setup_aiogram_dishka(container, router=dispatcher, auto_inject=True)
    return dispatcher


def build_http_app(
    container: AsyncContainer,
    settings: Settings,
    bot: Bot,
    dispatcher: Dispatcher,
    *,
    offline: bool = False,
    **kwargs: object,
) -> Starlette:
    """The app ``serve`` runs: webhooks, health, the outbox worker; registers the Telegram
    webhook at start-up when ``AIMPAY_TELEGRAM_WEBHOOK_URL`` is set."""
    worker = OutboxWorker(container)
    secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else None

    async def register_webhook() -> None:
        if not offline:
            await set_bot_commands(bot, dispatcher["catalog"])
        if settings.telegram_webhook_url and secret:
            await bot.set_webhook(
                settings.telegram_webhook_url,
                secret_token=secret,
                allowed_updates=dispatcher.resolve_used_update_types(),
            )
            log.info("telegram webhook registered at %s", settings.telegram_webhook_url)

    return create_app(
        container,
        telegram=(dispatcher, bot, secret) if secret else None,
        worker=worker,
        on_startup=register_webhook,
        **kwargs,  # type: ignore[arg-type]
    )


def uvicorn_server(app: Starlette, host: str, port: int, **kwargs: object) -> uvicorn.Server:
    # proxy_headers off: X-Forwarded-For is judged by our own SourcePolicy, never by uvicorn.
    config = uvicorn.Config(app, host=host, port=port, proxy_headers=False, log_level="warning", **kwargs)  # type: ignore[arg-type]
    return uvicorn.Server(config)


async def serve(settings: Settings, host: str, port: int) -> None:
    if settings.telegram_webhook_url and not settings.telegram_webhook_secret:
        raise ConfigError("AIMPAY_TELEGRAM_WEBHOOK_SECRET is required when AIMPAY_TELEGRAM_WEBHOOK_URL is set")
    container = make_container(settings)
    await check_schema(container)
    bot = await container.get(Bot)
    dispatcher = await make_dispatcher(container, settings)
    app = build_http_app(container, settings, bot, dispatcher)
    log.info("serving on http://%s:%d", host, port)
    await uvicorn_server(app, host, port).serve()


async def poll(settings: Settings) -> None:
    container = make_container(settings)
    await check_schema(container)
    bot = await container.get(Bot)
    dispatcher = await make_dispatcher(container, settings)
    worker = OutboxWorker(container)
    worker.start()
    settle_memory()
    try:
        await set_bot_commands(bot, dispatcher["catalog"])
        await bot.delete_webhook(drop_pending_updates=False)
        await dispatcher.start_polling(bot, allowed_updates=dispatcher.resolve_used_update_types(), handle_signals=True)
    finally:
        await worker.stop()
        await container.close()
