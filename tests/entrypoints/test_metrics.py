"""``GET /metrics``: who may read it, and what it shows after real requests to the app as
``aimpay serve`` assembles it (uvicorn, the real container and middleware; YooKassa, Resend and
Telegram are the offline harness's fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram import Bot, Dispatcher
from dishka import AsyncContainer, Provider, Scope, provide
from dishka.exceptions import NoFactoryError
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.fakes.gateways import FakePaymentGateway, RecordingNotifier
from adapters.sql.migrate import upgrade_to_head
from adapters.sql.readers import SqlPurchaseStatsReader
from adapters.telegram import TelegramNotifier
from application.ports.messaging import DeliveryDeferred
from application.ports.readers import PurchaseStatsReader
from application.use_cases.register_customer import RegisterCommand, RegisterCustomer
from application.use_cases.start_checkout import CheckoutCommand, PaymentLink, StartCheckout
from domain.email import Email
from domain.ids import TelegramId
from entrypoints.config import Settings
from entrypoints.container import make_container
from entrypoints.http.metrics import Metrics
from entrypoints.offline import OfflineBotProvider, RecordingBotSession
from entrypoints.runtime import build_http_app, make_dispatcher
from tests.bot.conftest import bot_at
from tests.entrypoints.test_http_app import LOOPBACK, TELEGRAM_SECRET, notification, serving, start_update
from tests.standins.server import serve_asgi
from tests.standins.telegram import TelegramBotApiStandIn

pytestmark = pytest.mark.usefixtures("clean_env")

TOKEN = "metrics-" + "t" * 32
BUYER = TelegramId(4242)


class PendingSettings(Settings):
    """``Settings`` with the field asked of ``entrypoints/config.py`` (``AIMPAY_METRICS_TOKEN``)
    for as long as it lacks it; harmless once it has it."""

    metrics_token: SecretStr | None = None


class PendingMetricsProvider(Provider):
    """What ``entrypoints/container.py`` is asked to provide, for a container that does not yet."""

    metrics = provide(Metrics, scope=Scope.APP)


class PendingPurchaseStatsProvider(Provider):
    @provide(scope=Scope.APP)
    def purchase_stats(self, engine: AsyncEngine) -> PurchaseStatsReader:
        return SqlPurchaseStatsReader(engine)


async def _missing_providers(settings: Settings) -> list[Provider]:
    probe = make_container(settings, offline=True, extra=[OfflineBotProvider(RecordingBotSession())])
    missing: list[Provider] = []
    for wanted, provider in ((Metrics, PendingMetricsProvider), (PurchaseStatsReader, PendingPurchaseStatsProvider)):
        try:
            await probe.get(wanted)
        except NoFactoryError:
            missing.append(provider())
    await probe.close()
    return missing


@dataclass
class ObservedShop:
    url: str
    container: AsyncContainer
    gateway: FakePaymentGateway
    notifier: RecordingNotifier

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, headers=headers)

    async def checkout(self, telegram_id: TelegramId = BUYER) -> str:
        """A registered customer's open purchase; returns its (fake) payment id."""
        async with self.container() as request:
            register = await request.get(RegisterCustomer)
            await register(RegisterCommand(telegram_id, "boris", "Boris", "en"))
        async with self.container() as request:
            checkout = await request.get(StartCheckout)
            link = await checkout(
                CheckoutCommand(telegram_id, Email("boris@example.com"), "https://t.me/aimpay_demo_bot")
            )
        assert isinstance(link, PaymentLink)
        (payment_id,) = [p.payment_id for p in self.gateway.payments.values() if p.purchase_id == link.purchase_id]
        return payment_id


async def thing(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"thing {request.path_params['thing_id']}")


@asynccontextmanager
async def observed_shop(
    tmp_path: Path, *, on_dispatcher: Callable[[Dispatcher], object] | None = None, **overrides: Any
) -> AsyncIterator[ObservedShop]:
    """``aimpay serve``'s assembly on the offline harness over a migrated SQLite file, with the
    route ``/things/{thing_id}`` added (a template with a parameter); ``on_dispatcher`` is given
    the bot's dispatcher before the app is built."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    await upgrade_to_head(database_url)
    settings = PendingSettings(database_url=database_url, **overrides)
    extra = [OfflineBotProvider(RecordingBotSession()), *await _missing_providers(settings)]
    container = make_container(settings, offline=True, extra=extra)
    bot = await container.get(Bot)
    dispatcher = await make_dispatcher(container, settings)
    if on_dispatcher is not None:
        on_dispatcher(dispatcher)
    app = build_http_app(
        container, settings, bot, dispatcher, offline=True, extra_routes=[Route("/things/{thing_id}", thing)]
    )
    async with serving(app) as url:
        yield ObservedShop(
            url, container, await container.get(FakePaymentGateway), await container.get(RecordingNotifier)
        )


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def scrape(shop: ObservedShop) -> Samples:
    async with shop.client(Authorization=f"Bearer {TOKEN}") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def eventually_scraped(shop: ObservedShop, condition: Callable[[Samples], bool]) -> Samples:
    for _ in range(250):
        found = await scrape(shop)
        if condition(found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"the metrics never showed it: {found}")


# --- who may read them --------------------------------------------------------------------------


async def test_metrics_are_absent_without_a_token(tmp_path: Path) -> None:
    async with observed_shop(tmp_path) as shop, shop.client(Authorization=f"Bearer {TOKEN}") as client:
        assert (await client.get("/metrics")).status_code == 404


async def test_metrics_refuse_a_missing_or_wrong_token(tmp_path: Path) -> None:
    async with observed_shop(tmp_path, metrics_token=TOKEN) as shop, shop.client() as client:
        refused = [
            await client.get("/metrics"),
            await client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"}),
            await client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN + "x"}),
            await client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}),
            await client.get("/metrics", headers={"Authorization": TOKEN}),
        ]
        assert [r.status_code for r in refused] == [401] * 5
        assert refused[0].headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in refused[0].text
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200 and "aimpay_http_requests_total" in allowed.text


def test_every_app_has_a_registry_of_its_own() -> None:
    first, second = Metrics(), Metrics()  # the global registry would refuse the second set of names
    first.count_throttled("warn")
    assert "aimpay_bot_throttled_updates_total" in first.render().decode()
    assert value(samples(second.render().decode()), "aimpay_bot_throttled_updates_total", verdict="warn") == 0


# --- what they show -----------------------------------------------------------------------------


async def test_the_metrics_show_what_happened(tmp_path: Path) -> None:
    async with (
        observed_shop(
            tmp_path,
            metrics_token=TOKEN,
            telegram_webhook_secret=TELEGRAM_SECRET,
            yookassa_trusted_networks=LOOPBACK,
            throttle_rate=1,
            throttle_period=60,
        ) as shop,
        shop.client() as client,
    ):
        # /start three times from one user within the limit's period: allowed, warned, dropped
        telegram = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        for update_id in (1, 2, 3):
            answer = await client.post("/webhooks/telegram", json=start_update(update_id, 777), headers=telegram)
            assert answer.status_code == 200, answer.text
        # a route with a parameter, and a path no route matches
        assert (await client.get("/things/1")).status_code == 200
        assert (await client.get("/things/2")).status_code == 200
        assert (await client.get("/no/such/page")).status_code == 404
        # a paid notification, while Telegram is down: the outbox's Telegram messages fail
        shop.notifier.available = False
        payment_id = await shop.checkout()
        shop.gateway.succeed(payment_id)
        paid = await client.post("/webhooks/yookassa", json=notification(payment_id))
        assert paid.json() == {"outcome": "paid"}
        again = await client.post("/webhooks/yookassa", json=notification(payment_id))
        assert again.json() == {"outcome": "unchanged"}
        malformed = await client.post("/webhooks/yookassa", content=b"{not json")
        assert malformed.status_code == 400
        shop.gateway.available = False
        unreachable = await client.post("/webhooks/yookassa", json=notification(payment_id))
        assert unreachable.status_code == 503

        found = await eventually_scraped(
            shop, lambda m: (value(m, "aimpay_outbox_delivery_failures_total", kind="telegram.notice") or 0) > 0
        )

    # HTTP requests by route template and status class, never by raw path
    assert value(found, "aimpay_http_requests_total", route="/webhooks/telegram", method="POST", status="2xx") == 3
    assert value(found, "aimpay_http_requests_total", route="/things/{thing_id}", method="GET", status="2xx") == 2
    assert value(found, "aimpay_http_requests_total", route="unmatched", method="GET", status="4xx") == 1
    assert value(found, "aimpay_http_requests_total", route="/webhooks/yookassa", method="POST", status="5xx") == 1
    assert value(found, "aimpay_http_request_duration_seconds_count", route="/things/{thing_id}", method="GET") == 2
    routes = {dict(labels).get("route") for (_, labels) in found}
    assert not {"/things/1", "/things/2", "/no/such/page"} & routes
    # YooKassa's notifications by outcome
    assert value(found, "aimpay_yookassa_notifications_total", outcome="paid", status="200") == 1
    assert value(found, "aimpay_yookassa_notifications_total", outcome="unchanged", status="200") == 1
    assert value(found, "aimpay_yookassa_notifications_total", outcome="malformed", status="400") == 1
    assert value(found, "aimpay_yookassa_notifications_total", outcome="provider_unreachable", status="503") == 1
    # the throttled /start: one warned, one dropped
    assert value(found, "aimpay_bot_throttled_updates_total", verdict="warn") == 1
    assert value(found, "aimpay_bot_throttled_updates_total", verdict="drop") == 1
    # payments by status, read from the database
    assert value(found, "aimpay_purchases", status="paid") == 1
    assert value(found, "aimpay_purchases", status="pending") == 0
    # the outbox: the grant went, the Telegram messages failed and wait
    assert (value(found, "aimpay_outbox_delivered_total", kind="access.grant") or 0) >= 1
    assert (value(found, "aimpay_outbox_delivery_failures_total", kind="telegram.notice") or 0) >= 1
    assert value(found, "aimpay_outbox_delivery_failures_total", kind="email.notice") == 0
    assert (value(found, "aimpay_outbox_pending") or 0) >= 1
    assert value(found, "aimpay_outbox_oldest_due_age_seconds") is not None


async def test_a_telegram_429_is_counted_through_on_flood() -> None:
    api = TelegramBotApiStandIn(username="aimpay_test_bot")
    metrics = Metrics()
    async with serve_asgi(api.app) as base_url:
        bot = bot_at(base_url, api.token)
        try:
            notifier = TelegramNotifier(bot, on_flood=metrics.telegram_flood)
            api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
            with pytest.raises(DeliveryDeferred):
                await notifier.send_message(TelegramId(10), "hello")
            await notifier.send_message(TelegramId(10), "hello")  # went through: no flood
        finally:
            await bot.session.close()
            api.shutdown()
    found = samples(metrics.render().decode())
    assert value(found, "aimpay_telegram_flood_waits_total") == 1
    assert value(found, "aimpay_telegram_flood_wait_seconds_total") == 7
