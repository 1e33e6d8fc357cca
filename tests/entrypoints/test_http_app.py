"""The HTTP app as production assembles it (``make_container`` + ``build_http_app``), served by
uvicorn with production's settings (``proxy_headers=False``) on 127.0.0.1, over a migrated SQLite
file; only YooKassa, Resend and Telegram are the in-memory fakes of the offline harness."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram import Bot
from aiogram.types import TelegramObject, Update
from dishka import AsyncContainer
from starlette.applications import Starlette

from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender, RecordingNotifier
from adapters.sql.migrate import upgrade_to_head
from application.ports.unit_of_work import UnitOfWork
from application.use_cases.register_customer import RegisterCommand, RegisterCustomer
from application.use_cases.start_checkout import CheckoutCommand, PaymentLink, StartCheckout
from domain.customer import Customer
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.purchase import Purchase, PurchaseStatus
from entrypoints.config import load_settings
from entrypoints.container import make_container
from entrypoints.http.yookassa_webhook import MAX_BODY
from entrypoints.offline import OfflineBotProvider, RecordingBotSession
from entrypoints.runtime import build_http_app, make_dispatcher, uvicorn_server
from tests.standins.server import free_port

pytestmark = pytest.mark.usefixtures("clean_env")

LOOPBACK = "127.0.0.1/32"
TELEGRAM_SECRET = "webhook-secret-" + "s" * 24
BUYER = TelegramId(4242)
BUYER_EMAIL = "boris@example.com"
WEBHOOK = "/webhooks/yookassa"
# Everything the app may write, except the outbox's delivery bookkeeping (the worker updates it
# in the background, so it is compared only where the worker is known to be done).
SNAPSHOT = {
    "customers": "SELECT * FROM customers",
    "purchases": "SELECT * FROM purchases",
    "ledger_entries": "SELECT * FROM ledger_entries",
    "access_grants": "SELECT * FROM access_grants",
    "blacklist": "SELECT * FROM blacklist",
    "outbox": "SELECT id, key, kind FROM outbox",
}


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Waits until ``condition()`` holds; fails the test after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Runs ``app`` in uvicorn configured as ``aimpay serve`` runs it; yields its base URL."""
    port = free_port()
    server = uvicorn_server(app, "127.0.0.1", port)
    assert server.config.proxy_headers is False
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the app stopped before it started serving")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@dataclass
class Shop:
    """The running app and handles on what it is wired to."""

    url: str
    database: Path
    container: AsyncContainer
    gateway: FakePaymentGateway
    notifier: RecordingNotifier
    email: RecordingEmailSender
    course: FakeCourseAccess
    bot_session: RecordingBotSession
    dispatched: list[int] = field(default_factory=list)  # ids of updates that reached the dispatcher

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)

    async def register(self, telegram_id: TelegramId, name: str = "Boris") -> None:
        async with self.container() as request:
            register = await request.get(RegisterCustomer)
            await register(RegisterCommand(telegram_id, name.lower(), name, "en"))

    async def checkout(self, telegram_id: TelegramId = BUYER, email: str = BUYER_EMAIL) -> tuple[PurchaseId, str]:
        """A registered customer's open purchase and its (fake) payment id."""
        await self.register(telegram_id)
        async with self.container() as request:
            checkout = await request.get(StartCheckout)
            link = await checkout(CheckoutCommand(telegram_id, Email(email), "https://t.me/aimpay_demo_bot"))
        assert isinstance(link, PaymentLink)
        (payment_id,) = [p.payment_id for p in self.gateway.payments.values() if p.purchase_id == link.purchase_id]
        return link.purchase_id, payment_id

    async def purchase(self, purchase_id: PurchaseId) -> Purchase:
        async with self.container() as request:
            uow = await request.get(UnitOfWork)
            async with uow:
                purchase = await uow.purchases.get(purchase_id)
        assert purchase is not None
        return purchase

    async def customer(self, telegram_id: TelegramId) -> Customer | None:
        async with self.container() as request:
            uow = await request.get(UnitOfWork)
            async with uow:
                return await uow.customers.by_telegram_id(telegram_id)

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """What is in the database, read with plain sqlite3 past the app's own adapters."""
        with closing(sqlite3.connect(self.database)) as db:
            return {name: sorted(db.execute(sql).fetchall(), key=repr) for name, sql in SNAPSHOT.items()}

    def undelivered(self) -> int:
        with closing(sqlite3.connect(self.database)) as db:
            (count,) = db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()
        return int(count)


@asynccontextmanager
async def running_shop(tmp_path: Path, *, database_url: str | None = None, **overrides: object) -> AsyncIterator[Shop]:
    """``aimpay serve``'s assembly on the offline harness, over a freshly migrated SQLite file
    (or over ``database_url``, left as it is)."""
    database = tmp_path / "shop.db"
    if database_url is None:
        database_url = f"sqlite+aiosqlite:///{database}"
        await upgrade_to_head(database_url)
    settings = load_settings(database_url=database_url, **overrides)
    session = RecordingBotSession()
    container = make_container(settings, offline=True, extra=[OfflineBotProvider(session)])
    bot = await container.get(Bot)
    dispatcher = await make_dispatcher(container, settings)
    dispatched: list[int] = []

    async def record(
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]], event: TelegramObject, data: dict[str, Any]
    ) -> Any:
        assert isinstance(event, Update)
        dispatched.append(event.update_id)
        return await handler(event, data)

    dispatcher.update.outer_middleware(record)
    app = build_http_app(container, settings, bot, dispatcher, offline=True)
    async with serving(app) as url:  # the app's lifespan closes the container when it stops
        yield Shop(
            url=url,
            database=database,
            container=container,
            gateway=await container.get(FakePaymentGateway),
            notifier=await container.get(RecordingNotifier),
            email=await container.get(RecordingEmailSender),
            course=await container.get(FakeCourseAccess),
            bot_session=session,
            dispatched=dispatched,
        )


def notification(payment_id: str, event: str = "payment.succeeded") -> dict[str, Any]:
    """A notification shaped like YooKassa's (its ``object`` abridged)."""
    status = event.split(".", 1)[1]
    return {
        "type": "notification",
        "event": event,
        "object": {"id": payment_id, "status": status, "paid": status == "succeeded", "amount": {"value": "1.00"}},
    }


# --- POST /webhooks/yookassa: who may call ------------------------------------------------------


async def test_a_caller_outside_yookassas_networks_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    async with running_shop(tmp_path) as shop, shop.client() as client:  # YooKassa's networks only
        purchase_id, payment_id = await shop.checkout()
        shop.gateway.succeed(payment_id)
        before = shop.rows()

        direct = await client.post(WEBHOOK, json=notification(payment_id))
        # 127.0.0.1 is no proxy of ours: the header it sends is its own claim, not believed
        claimed = await client.post(WEBHOOK, json=notification(payment_id), headers={"X-Forwarded-For": "185.71.76.5"})

        assert (direct.status_code, claimed.status_code) == (403, 403)
        assert shop.rows() == before
        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PENDING
        assert shop.undelivered() == 0 and not shop.notifier.sent and not shop.email.sent


async def test_forwarded_for_is_believed_from_a_trusted_proxy(tmp_path: Path) -> None:
    async with running_shop(tmp_path, trusted_proxies="127.0.0.1") as shop, shop.client() as client:
        purchase_id, payment_id = await shop.checkout()
        shop.gateway.succeed(payment_id)
        before = shop.rows()

        no_header = await client.post(WEBHOOK, json=notification(payment_id))
        # the caller put a YooKassa address first; the proxy appended the caller's real one
        spoofed = await client.post(
            WEBHOOK, json=notification(payment_id), headers={"X-Forwarded-For": "185.71.76.5, 203.0.113.9"}
        )
        assert (no_header.status_code, spoofed.status_code) == (403, 403)
        assert shop.rows() == before

        relayed = await client.post(WEBHOOK, json=notification(payment_id), headers={"X-Forwarded-For": "185.71.76.5"})
        assert relayed.status_code == 200, relayed.text
        assert relayed.json() == {"outcome": "paid"}
        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PAID


# --- POST /webhooks/yookassa: what it does ------------------------------------------------------


async def test_a_paid_notification_pays_once_and_the_outbox_delivers_access(tmp_path: Path) -> None:
    async with running_shop(tmp_path, yookassa_trusted_networks=LOOPBACK) as shop, shop.client() as client:
        purchase_id, payment_id = await shop.checkout()
        shop.gateway.succeed(payment_id)

        first = await client.post(WEBHOOK, json=notification(payment_id))
        assert first.status_code == 200, first.text
        assert first.json() == {"outcome": "paid"}
        purchase = await shop.purchase(purchase_id)
        assert purchase.status is PurchaseStatus.PAID and purchase.paid_at is not None

        # the worker started by the app's lifespan delivers the invite by Telegram and by email
        await eventually(lambda: bool(shop.notifier.to(BUYER)) and bool(shop.email.sent) and shop.undelivered() == 0)
        (invite,) = shop.course.invites
        assert any(
            invite in message.text or any(invite == b.url for b in message.buttons)
            for message in shop.notifier.to(BUYER)
        )
        (mail,) = shop.email.sent.values()
        assert str(mail.to) == BUYER_EMAIL and invite in mail.text
        settled = shop.rows()
        sent = (list(shop.notifier.sent), dict(shop.email.sent))

        again = await client.post(WEBHOOK, json=notification(payment_id))
        assert again.status_code == 200 and again.json() == {"outcome": "unchanged"}
        # a forged or stale cancellation: the provider still says succeeded, and that is believed
        canceled = await client.post(WEBHOOK, json=notification(payment_id, "payment.canceled"))
        assert canceled.status_code == 200 and canceled.json() == {"outcome": "unchanged"}

        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PAID
        assert shop.rows() == settled  # no second credit, grant or message queued
        assert shop.undelivered() == 0
        assert (list(shop.notifier.sent), dict(shop.email.sent)) == sent
        assert len(shop.course.invites) == 1


BAD_BODIES: list[tuple[str, bytes]] = [
    ("not JSON", b"payment.succeeded fake-000001"),
    ("not UTF-8", b'{"type": "notification", "\xff\xfe": 1}'),
    ("a JSON array", b'[{"type": "notification"}]'),
    ("a JSON string", b'"notification"'),
    ("no object.id", json.dumps({"type": "notification", "event": "payment.succeeded", "object": {}}).encode()),
    ("no object", json.dumps({"type": "notification", "event": "payment.succeeded"}).encode()),
]


def _with_id(payment_id: object) -> bytes:
    return json.dumps({"type": "notification", "event": "payment.succeeded", "object": {"id": payment_id}}).encode()


async def test_malformed_notifications_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with running_shop(tmp_path, yookassa_trusted_networks=LOOPBACK) as shop, shop.client() as client:
        purchase_id, payment_id = await shop.checkout()
        shop.gateway.succeed(payment_id)
        before = shop.rows()
        bodies = [
            *BAD_BODIES,
            ("an id with a slash", _with_id(f"../{payment_id}")),
            ("an id of 200 characters", _with_id("a" * 200)),
            ("a numeric id", _with_id(12345)),
            ("the wrong type", json.dumps({**notification(payment_id), "type": "event"}).encode()),
            ("no type", json.dumps({k: v for k, v in notification(payment_id).items() if k != "type"}).encode()),
            ("a malformed event", json.dumps({**notification(payment_id), "event": "payment succeeded"}).encode()),
        ]

        answers = {}
        for what, body in bodies:
            response = await client.post(WEBHOOK, content=body, headers={"Content-Type": "application/json"})
            answers[what] = response.status_code
        assert answers == {what: 400 for what, _ in bodies}
        assert shop.rows() == before
        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PENDING

        control = await client.post(WEBHOOK, json=notification(payment_id))  # the same app, a good body
        assert control.json() == {"outcome": "paid"}


async def _chunks(body: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    """The body streamed in chunks, so httpx sends it chunked, without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_body_over_64_kib_is_refused_with_or_without_content_length(tmp_path: Path) -> None:
    async with running_shop(tmp_path, yookassa_trusted_networks=LOOPBACK) as shop, shop.client() as client:
        purchase_id, payment_id = await shop.checkout()
        shop.gateway.succeed(payment_id)
        before = shop.rows()
        body = json.dumps(notification(payment_id)).encode()
        too_big = body + b" " * (MAX_BODY + 1 - len(body))  # valid JSON: only its size is wrong
        at_limit = body + b" " * (MAX_BODY - len(body))
        assert MAX_BODY == 64 * 1024 and len(too_big) == MAX_BODY + 1 and len(at_limit) == MAX_BODY

        declared = await client.post(WEBHOOK, content=too_big)
        chunked = client.build_request("POST", WEBHOOK, content=_chunks(too_big))
        assert chunked.headers.get("transfer-encoding") == "chunked" and "content-length" not in chunked.headers
        streamed = await client.send(chunked)

        assert (declared.status_code, streamed.status_code) == (413, 413)
        assert shop.rows() == before
        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PENDING

        accepted = await client.send(client.build_request("POST", WEBHOOK, content=_chunks(at_limit)))
        assert accepted.status_code == 200 and accepted.json() == {"outcome": "paid"}


async def test_events_other_than_payments_are_acknowledged_and_ignored(tmp_path: Path) -> None:
    async with running_shop(tmp_path, yookassa_trusted_networks=LOOPBACK) as shop, shop.client() as client:
        purchase_id, payment_id = await shop.checkout()
        shop.gateway.succeed(payment_id)
        before = shop.rows()

        response = await client.post(WEBHOOK, json=notification(payment_id, "refund.succeeded"))

        assert response.status_code == 200
        assert response.json()["outcome"] == "ignored"
        assert shop.rows() == before
        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PENDING


async def test_a_payment_the_provider_does_not_know_is_not_ours(tmp_path: Path) -> None:
    async with running_shop(tmp_path, yookassa_trusted_networks=LOOPBACK) as shop, shop.client() as client:
        purchase_id, _payment_id = await shop.checkout()
        before = shop.rows()

        response = await client.post(WEBHOOK, json=notification("2d8e6c5a-000f-5000-9000-1f0c2e3a4b5c"))

        assert response.status_code == 200 and response.json() == {"outcome": "not_ours"}
        assert shop.rows() == before
        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PENDING


async def test_a_provider_outage_answers_503_and_the_redelivery_is_applied(tmp_path: Path) -> None:
    async with running_shop(tmp_path, yookassa_trusted_networks=LOOPBACK) as shop, shop.client() as client:
        purchase_id, payment_id = await shop.checkout()
        shop.gateway.succeed(payment_id)
        before = shop.rows()

        shop.gateway.available = False
        down = await client.post(WEBHOOK, json=notification(payment_id))
        assert down.status_code == 503
        assert shop.rows() == before
        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PENDING

        shop.gateway.available = True
        redelivered = await client.post(WEBHOOK, json=notification(payment_id))
        assert redelivered.status_code == 200 and redelivered.json() == {"outcome": "paid"}
        assert (await shop.purchase(purchase_id)).status is PurchaseStatus.PAID
        await eventually(lambda: bool(shop.notifier.to(BUYER)) and len(shop.email.sent) == 1)


# --- POST /webhooks/telegram --------------------------------------------------------------------


def start_update(update_id: int, user_id: int, text: str = "/start") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Boris"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Boris", "username": "boris", "language_code": "en"},
            "text": text,
        },
    }


async def test_telegram_updates_need_the_secret_token(tmp_path: Path) -> None:
    async with running_shop(tmp_path, telegram_webhook_secret=TELEGRAM_SECRET) as shop, shop.client() as client:
        update = start_update(1, BUYER.value)
        missing = await client.post("/webhooks/telegram", json=update)
        wrong = await client.post(
            "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET[:-1] + "x"}
        )
        assert (missing.status_code, wrong.status_code) == (401, 401)
        assert shop.dispatched == []
        assert await shop.customer(BUYER) is None and shop.bot_session.replies == []

        right = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        not_json = await client.post("/webhooks/telegram", content=b"{not json", headers=right)
        not_update = await client.post("/webhooks/telegram", json={"message": {"text": "/start"}}, headers=right)
        assert (not_json.status_code, not_update.status_code) == (400, 400)
        assert shop.dispatched == []

        accepted = await client.post("/webhooks/telegram", json=update, headers=right)
        assert accepted.status_code == 200, accepted.text
        assert shop.dispatched == [1]
        customer = await shop.customer(BUYER)
        assert customer is not None and customer.first_name == "Boris"
        # The welcome goes back inline, in the webhook's answer: no call to Telegram of our own.
        answer = accepted.json()
        assert (answer["method"], answer["chat_id"]) == ("sendMessage", BUYER.value)
        assert "Boris" in answer["text"] and answer["reply_markup"]["inline_keyboard"]
        assert shop.bot_session.replies == []


async def test_the_telegram_route_is_absent_without_a_secret(tmp_path: Path) -> None:
    async with running_shop(tmp_path) as shop, shop.client() as client:
        response = await client.post(
            "/webhooks/telegram",
            json=start_update(1, BUYER.value),
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        assert response.status_code in (404, 405)
        assert shop.dispatched == [] and await shop.customer(BUYER) is None


# --- GET /healthz -------------------------------------------------------------------------------


async def test_health_is_ok_when_the_database_answers(tmp_path: Path) -> None:
    async with running_shop(tmp_path) as shop, shop.client() as client:
        response = await client.get("/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_health_is_503_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    directory = tmp_path / "not-a-database"
    directory.mkdir()
    async with running_shop(tmp_path, database_url=f"sqlite+aiosqlite:///{directory}") as shop, shop.client() as client:
        response = await client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] != "ok"
