"""Starting while Telegram is away: ``serve`` serves YooKassa's webhook, /healthz and the outbox
meanwhile and registers its webhook once Telegram is back; ``bot`` keeps trying to reach
Telegram instead of exiting. The real adapters, against loopback stand-ins."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import entrypoints.runtime
from adapters.sql.migrate import upgrade_to_head
from application.use_cases.register_customer import RegisterCommand, RegisterCustomer
from application.use_cases.start_checkout import CheckoutCommand, PaymentLink, StartCheckout
from domain.email import Email
from domain.ids import TelegramId
from entrypoints.config import Settings, load_settings
from entrypoints.outbox_worker import OutboxWorker
from entrypoints.runtime import Serving, poll, prepare_serve
from tests.standins.resend import ResendStandIn
from tests.standins.server import free_port, serve_asgi
from tests.standins.telegram import TelegramBotApiStandIn, message_update
from tests.standins.yookassa import YooKassaStandIn

pytestmark = pytest.mark.usefixtures("clean_env")

SECRET = "startup-webhook-secret-0123456789"
BUYER = 4242
CHAT = -1001234567890


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entrypoints.runtime, "RETRY_FIRST", 0.05)
    monkeypatch.setattr(entrypoints.runtime, "RETRY_MAX", 0.2)


async def eventually(condition: Callable[[], Any], timeout: float = 15.0) -> None:
    """Waits until ``condition()`` (or what it awaits to) holds; fails after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)


async def running(serving: Serving) -> asyncio.Task[None]:
    task = asyncio.create_task(serving.run())
    async with asyncio.timeout(15):
        while not serving.server.started:
            assert not task.done(), task
            await asyncio.sleep(0.01)
    return task


async def stop(serving: Serving, task: asyncio.Task[None]) -> None:
    serving.server.should_exit = True
    await asyncio.wait_for(task, 15)


def shop_settings(
    tmp_path: Path, base: str, telegram: TelegramBotApiStandIn, telegram_url: str, **more: object
) -> Settings:
    return load_settings(
        command="serve",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}",
        bot_token=telegram.token,
        telegram_api_url=telegram_url,
        telegram_webhook_secret=SECRET,
        telegram_webhook_url=f"{base}/webhooks/telegram",
        course_chat_id=CHAT,
        redis_url=None,
        **more,
    )


@pytest.fixture
async def yookassa() -> AsyncIterator[tuple[YooKassaStandIn, str]]:
    stand_in = YooKassaStandIn()
    async with serve_asgi(stand_in.app) as url:
        yield stand_in, url


@pytest.fixture
async def resend() -> AsyncIterator[tuple[ResendStandIn, str]]:
    stand_in = ResendStandIn()
    async with serve_asgi(stand_in.app) as url:
        yield stand_in, url


async def test_serve_starts_while_telegram_refuses_connections_and_registers_once_it_is_back(
    tmp_path: Path, yookassa: tuple[YooKassaStandIn, str], resend: tuple[ResendStandIn, str]
) -> None:
    telegram = TelegramBotApiStandIn(username="aimpay_startup_bot")
    telegram_port = free_port()  # nothing listens there yet: connections are refused
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    yk, yk_url = yookassa
    rs, rs_url = resend
    settings = shop_settings(
        tmp_path,
        base,
        telegram,
        f"http://127.0.0.1:{telegram_port}",
        yookassa_shop_id=yk.shop_id,
        yookassa_secret_key=yk.secret_key,
        yookassa_api_url=f"{yk_url}/v3",
        yookassa_trusted_networks="127.0.0.1/32",
        resend_api_key=rs.api_key,
        resend_api_url=rs_url,
        email_from="Course <course@example.com>",
    )
    await upgrade_to_head(settings.database_url)

    serving = await prepare_serve(settings, "127.0.0.1", port)
    task = await running(serving)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            health = await http.get("/healthz")
            assert health.status_code == 200
            assert health.json()["status"] == "degraded"
            assert health.json()["telegram"].startswith("webhook not registered yet: ")
            assert "Cannot connect" in health.json()["telegram"]

            # YooKassa's webhook is served meanwhile: a paid payment's notification is handled.
            container = serving.server.config.app.state.dishka_container
            async with container() as request:
                register = await request.get(RegisterCustomer)
                await register(RegisterCommand(TelegramId(BUYER), "boris", "Boris", "en"))
            async with container() as request:
                checkout = await request.get(StartCheckout)
                link = await checkout(
                    CheckoutCommand(TelegramId(BUYER), Email("boris@example.com"), "https://t.me/aimpay_startup_bot")
                )
            assert isinstance(link, PaymentLink)
            (payment_id,) = yk.payments
            yk.succeed(payment_id)
            notified = await http.post("/webhooks/yookassa", json=yk.notification(payment_id))
            assert notified.status_code == 200 and notified.json()["outcome"] == "paid"
            assert (await http.get("/healthz")).json()["status"] == "degraded"

            # Telegram comes back: the webhook and the commands get registered, health is ok, and
            # the outbox (running all along) delivers the invite link and the email.
            async with serve_asgi(telegram.app, port=telegram_port):
                await telegram.wait_for(lambda: telegram.webhook.url == f"{base}/webhooks/telegram")
                assert telegram.webhook.secret_token == SECRET
                await telegram.wait_for(lambda: bool(telegram.commands))

                async def healthy() -> bool:
                    return (await http.get("/healthz")).json() == {"status": "ok"}

                await eventually(healthy)
                await telegram.wait_for(lambda: bool(telegram.messages_to(BUYER)), timeout=30)
                await eventually(lambda: len(rs.emails) == 1, timeout=30)
                telegram.shutdown()
    finally:
        await stop(serving, task)


async def test_serve_reports_a_failing_set_webhook_until_it_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(entrypoints.runtime, "RETRY_FIRST", 0.5)
    caplog.set_level(logging.WARNING, logger="entrypoints.http.app")
    telegram = TelegramBotApiStandIn(username="aimpay_startup_bot")
    telegram.fail_next("setWebhook", 502, "Bad Gateway", times=3)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with serve_asgi(telegram.app) as telegram_url:
        settings = shop_settings(tmp_path, base, telegram, telegram_url, payments="sandbox", email="log")
        await upgrade_to_head(settings.database_url)
        serving = await prepare_serve(settings, "127.0.0.1", port)
        task = await running(serving)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                health = (await http.get("/healthz")).json()
                assert health == {
                    "status": "degraded",
                    "telegram": "webhook not registered yet: Telegram server says - Bad Gateway",
                }

                async def healthy() -> bool:
                    return (await http.get("/healthz")).json() == {"status": "ok"}

                await eventually(healthy)
            assert len(telegram.calls_of("setWebhook")) == 4
            assert telegram.webhook.url == f"{base}/webhooks/telegram"
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 3 and all("webhook not registered yet" in w for w in warnings)
        finally:
            telegram.shutdown()
            await stop(serving, task)


async def test_the_polling_bot_keeps_trying_to_reach_telegram_and_then_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    started: list[OutboxWorker] = []

    class Worker(OutboxWorker):
        def start(self) -> None:
            started.append(self)
            super().start()

    monkeypatch.setattr(entrypoints.runtime, "OutboxWorker", Worker)
    caplog.set_level(logging.WARNING, logger="entrypoints.runtime")
    api = TelegramBotApiStandIn()
    telegram_port = free_port()
    settings = load_settings(
        command="bot",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'poll.db'}",
        bot_token=api.token,
        telegram_api_url=f"http://127.0.0.1:{telegram_port}",
        payments="sandbox",
        email="log",
        redis_url=None,
    )
    await upgrade_to_head(settings.database_url)
    polling = asyncio.create_task(poll(settings))
    try:
        await eventually(lambda: len([r for r in caplog.records if "starting the bot" in r.getMessage()]) >= 3)
        assert not polling.done()  # still trying, not exited
        assert len(started) == 1  # the outbox is delivered meanwhile
        async with serve_asgi(api.app, port=telegram_port):
            api.push_update(message_update(77, "/start", first_name="Vera"))
            await api.wait_for(lambda: bool(api.messages_to(77)), timeout=15)
            assert "Vera" in api.messages_to(77)[0].text
            api.shutdown()
            polling.cancel()
            with pytest.raises(asyncio.CancelledError):
                await polling
    finally:
        if not polling.done():
            polling.cancel()
    warnings = [r.getMessage() for r in caplog.records if r.name == "entrypoints.runtime"]
    assert len(warnings) >= 3
    assert all(w.startswith("telegram: starting the bot failed (attempt ") for w in warnings)
