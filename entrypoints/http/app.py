"""The Starlette app: health, YooKassa's webhook and (when configured) Telegram's."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from aiogram import Bot, Dispatcher
from dishka import AsyncContainer
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette_dishka import setup_dishka

from adapters.sql.engine import ping
from entrypoints.config import SetupError
from entrypoints.http import observability
from entrypoints.http.telegram_webhook import TelegramWebhook
from entrypoints.http.yookassa_webhook import yookassa_webhook
from entrypoints.outbox_worker import OutboxWorker

log = logging.getLogger(__name__)


def settle_memory() -> None:
    """Moves everything built at start-up (the routers, the container, the pydantic models: a few
    hundred thousand objects) out of the garbage collector's sight. Otherwise every full
    collection walks them all again: a pause of about 250 ms that every request in flight waited
    through, the p99 of a burst."""
    gc.collect()
    gc.freeze()


class Registration:
    """What the app registers with Telegram at start-up (the webhook, the command menu), done in
    the background so that a Telegram outage does not keep the app from serving YooKassa's
    webhook, /healthz and the outbox: ``attempt`` is tried at once and then again after
    ``first_delay`` seconds, doubling up to ``max_delay``, until it succeeds. Until then
    ``problem`` says what is missing (``/healthz`` reports it); ``None`` once done. An attempt
    that raises ``SetupError`` (Telegram refused the token) is not retried: ``problem`` keeps
    its line. Start-up waits up to ``first_wait`` seconds for the first attempt, so a healthy
    Telegram has the webhook registered before the first request."""

    def __init__(
        self,
        attempt: Callable[[], Awaitable[None]],
        *,
        what: str = "webhook",
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        first_wait: float = 5.0,
    ) -> None:
        self._attempt = attempt
        self.what = what
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.first_wait = first_wait
        self.problem: str | None = f"{what} not registered yet: registering"
        self.attempts = 0
        self._tried = asyncio.Event()

    async def run(self) -> None:
        delay = self.first_delay
        while True:
            self.attempts += 1
            try:
                await self._attempt()
            except SetupError as exc:
                self.problem = str(exc)
                log.error("telegram: %s (not retried)", exc)
                self._tried.set()
                return
            except Exception as exc:  # noqa: BLE001 - any failure is retried, and reported meanwhile
                reason = str(exc) or type(exc).__name__
                self.problem = f"{self.what} not registered yet: {reason}"
                log.warning(
                    "telegram: %s not registered yet (attempt %d): %s; trying again in %g s",
                    self.what,
                    self.attempts,
                    reason,
                    delay,
                )
                self._tried.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_delay)
            else:
                self.problem = None
                self._tried.set()
                if self.attempts > 1:
                    log.info("telegram: %s registered after %d attempts", self.what, self.attempts)
                return

    async def first_attempt(self) -> None:
        """Returns when the first attempt is over, or after ``first_wait`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), self.first_wait)


async def healthz(request: Request) -> JSONResponse:
    """200 ``{"status": "ok"}``; 200 ``{"status": "degraded", "telegram": ...}`` while the
    webhook is not registered with Telegram yet (YooKassa's webhook and the outbox work
    meanwhile); 503 only when the database does not answer."""
    container: AsyncContainer = request.app.state.dishka_container
    if not await ping(await container.get(AsyncEngine)):
        return JSONResponse({"status": "database unreachable"}, status_code=503)
    registration: Registration | None = getattr(request.app.state, "telegram_registration", None)
    if registration is not None and registration.problem is not None:
        return JSONResponse({"status": "degraded", "telegram": registration.problem})
    return JSONResponse({"status": "ok"})


def create_app(
    container: AsyncContainer,
    *,
    telegram: tuple[Dispatcher, Bot, str] | None = None,
    worker: OutboxWorker | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    on_startup: Callable[[], Awaitable[None]] | None = None,
    registration: Registration | None = None,
    close_container: bool = True,
) -> Starlette:
    """``telegram`` = (dispatcher, bot, secret) mounts ``POST /webhooks/telegram``.
    ``registration`` runs in the background from start-up on (see ``Registration``)."""
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/webhooks/yookassa", yookassa_webhook, methods=["POST"]),
        *extra_routes,
    ]
    if telegram is not None:
        dispatcher, bot, secret = telegram
        routes.append(Route("/webhooks/telegram", TelegramWebhook(dispatcher, bot, secret).handle, methods=["POST"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if telegram is not None:
            await telegram[0].emit_startup(bot=telegram[1])
        if on_startup is not None:
            await on_startup()
        if worker is not None:
            worker.start()
        registering: asyncio.Task[None] | None = None
        if registration is not None:
            registering = asyncio.create_task(registration.run(), name="telegram-registration")
            await registration.first_attempt()
        settle_memory()
        try:
            yield
        finally:
            if registering is not None:
                registering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await registering
            if worker is not None:
                await worker.stop()
            if telegram is not None:
                await telegram[0].emit_shutdown(bot=telegram[1])
            if close_container:
                await container.close()

    app = Starlette(
        routes=[*routes, *observability.routes()], lifespan=lifespan, middleware=observability.middleware(container)
    )
    app.state.outbox_worker = worker
    app.state.telegram_registration = registration
    setup_dishka(container, app)
    return app
