"""``aimpay demo``: the paid journey, played on the offline harness, printed step by step."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from dishka import AnyOf, Provider, Scope, provide

from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender, RecordingNotifier
from adapters.sql.migrate import upgrade_to_head
from application.ports.payment_gateway import PaymentGateway
from domain.ids import TelegramId
from entrypoints.config import load_settings
from entrypoints.container import make_container
from entrypoints.offline import OfflineBotProvider, RecordingBotSession, checkout_routes
from entrypoints.runtime import build_http_app, make_dispatcher, uvicorn_server

REFERRER = (1001, "Anna")
BUYER = (1002, "Boris")
ADMIN = 1000


class DemoGatewayProvider(Provider):
    def __init__(self, confirmation_url: str) -> None:
        super().__init__()
        self._url = confirmation_url

    @provide(scope=Scope.APP, override=True, provides=AnyOf[FakePaymentGateway, PaymentGateway])
    def gateway(self) -> FakePaymentGateway:
        return FakePaymentGateway(self._url)


class Journey:
    def __init__(
        self, dispatcher: Dispatcher, bot: Bot, session: RecordingBotSession, out: Callable[[str], None]
    ) -> None:
        self._dp = dispatcher
        self._bot = bot
        self._session = session
        self._out = out
        self._ids = itertools.count(1)

    async def say(self, user: tuple[int, str], text: str) -> list[str]:
        """``user`` sends ``text`` to the bot; returns (and prints) the bot's replies."""
        uid, name = user
        n = next(self._ids)
        update = Update.model_validate(
            {
                "update_id": n,
                "message": {
                    "message_id": n,
                    "date": int(time.time()),
                    "chat": {"id": uid, "type": "private", "first_name": name},
                    "from": {
                        "id": uid,
                        "is_bot": False,
                        "first_name": name,
                        "username": name.lower(),
                        "language_code": "en",
                    },
                    "text": text,
                },
            },
            context={"bot": self._bot},
        )
        seen = len(self._session.replies)
        self._out(f"\n  {name} → bot: {text}")
        answer = await self._dp.feed_update(self._bot, update)
        if isinstance(answer, TelegramMethod):  # what polling does with an answer returned by a handler
            await self._bot(answer)
        replies = self._session.replies[seen:]
        for reply in replies:
            self._out("  bot → " + name + ": " + reply.text.replace("\n", "\n        "))
            for label, target in reply.buttons:
                self._out(f"        [{label}]" + (f" → {target}" if target.startswith("http") else ""))
        return [r.text for r in replies] + [t for r in replies for _, t in r.buttons]


async def run_demo(host: str, port: int, *, once: bool, out: Callable[[str], None] = print) -> int:
    base = f"http://{host}:{port}"
    database = Path("var") / "demo.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 - before anything runs
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        course_title="Python for course authors",
        course_price="4990.00",
        referral_percent="10",
        admin_ids=str(ADMIN),
        yookassa_trusted_networks="127.0.0.1/32,::1/128",
        trusted_proxies="",
        redis_url=None,
        throttle_rate=100,
        throttle_period=1,
        telegram_webhook_secret=None,
        telegram_webhook_url=None,
    )
    out("aimpay demo: the paid journey on the offline harness (SQLite + fake YooKassa, Resend, Telegram)")
    out(f"  database: {database} (migrated to the latest schema)")
    await upgrade_to_head(settings.database_url)

    session = RecordingBotSession()
    container = make_container(
        settings,
        offline=True,
        extra=[OfflineBotProvider(session), DemoGatewayProvider(base + "/demo/checkout/{payment_id}")],
    )
    bot = await container.get(Bot)
    gateway = await container.get(FakePaymentGateway)
    notifier = await container.get(RecordingNotifier)
    email = await container.get(RecordingEmailSender)
    course = await container.get(FakeCourseAccess)
    dispatcher = await make_dispatcher(container, settings)
    app = build_http_app(
        container,
        settings,
        bot,
        dispatcher,
        offline=True,
        extra_routes=checkout_routes(gateway, base + "/webhooks/yookassa"),
    )
    server = uvicorn_server(app, host, port)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            return 1
        await asyncio.sleep(0.02)
    out(f"  HTTP app: {base} (GET /healthz, POST /webhooks/yookassa)")

    journey = Journey(dispatcher, bot, session, out)
    ok = True

    def check(condition: bool, what: str) -> None:
        nonlocal ok
        ok = ok and condition
        out(f"  {'✔' if condition else '✘'} {what}")

    try:
        out("\n1. The referrer starts the bot and asks for her referral link")
        await journey.say(REFERRER, "/start")
        replies = await journey.say(REFERRER, "/ref")
        code = next((m.group(1) for r in replies if (m := re.search(r"\?start=([A-Za-z0-9_-]+)", r))), None)
        check(code is not None, f"referral code: {code}")

        out("\n2. The buyer comes by her link and buys")
        await journey.say(BUYER, f"/start {code}")
        await journey.say(BUYER, "/buy")
        await journey.say(BUYER, "not-an-email")
        replies = await journey.say(BUYER, "boris@example.com")
        pay_url = next((r for r in replies if "/demo/checkout/" in r), None)
        check(pay_url is not None, "a payment link to the (fake) YooKassa checkout")
        replies = await journey.say(BUYER, "/buy")
        check(len(gateway.payments) == 1, "asking again gives the same payment, not a second one")
        payment_id = next(iter(gateway.payments))

        out("\n3. The buyer pays; YooKassa notifies POST /webhooks/yookassa; we re-fetch and confirm")
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
            paid = await client.post(f"{base}/demo/checkout/{payment_id}")
            check(paid.status_code == 303, f"checkout page: payment {payment_id} succeeded")
            replay = await client.post(
                f"{base}/webhooks/yookassa",
                json={"type": "notification", "event": "payment.succeeded", "object": {"id": payment_id}},
            )
            out(f"  the same notification again → {replay.status_code} {replay.json()}")

        out("\n4. After commit the outbox delivers: invite link by Telegram and email, notes to referrer and admin")
        buyer = TelegramId(BUYER[0])
        for _ in range(200):
            if (
                notifier.to(buyer)
                and email.sent
                and notifier.to(TelegramId(REFERRER[0]))
                and notifier.to(TelegramId(ADMIN))
            ):
                break
            await asyncio.sleep(0.05)
        for message in notifier.sent:
            out(f"  telegram → {message.telegram_id}: " + message.text.replace("\n", "\n        "))
        for key, mail in email.sent.items():
            out(f"  email → {mail.to} «{mail.subject}» (idempotency key {key})")
        check(len(course.invites) == 1, "exactly one one-time invite link was created")
        link = next(iter(course.invites), "")
        check(bool(link) and course.join(buyer, link, datetime.now(UTC)), "the buyer joins the course chat with it")
        check(len(email.sent) == 1, "exactly one email")

        out("\n5. The referrer sees the credit; the buyer cannot be charged twice")
        replies = await journey.say(REFERRER, "/ref")
        check(any("499.00" in r for r in replies), "referrer balance: 499.00 (10% of 4990.00)")
        await journey.say(BUYER, "/buy")
        check(len(gateway.payments) == 1, "no second payment for a customer who paid")
    except Exception as exc:  # noqa: BLE001 - a demo that breaks says so and exits non-zero
        out(f"  ✘ the demo failed: {exc!r}")
        ok = False

    out("\n" + ("The journey completed." if ok else "The journey did NOT complete as expected."))
    if not once and ok:
        out(f"\nServing {base} until Ctrl-C. Try: curl {base}/healthz")
        try:
            await serving
        except asyncio.CancelledError:
            pass
        return 0
    server.should_exit = True
    await serving
    return 0 if ok else 1
