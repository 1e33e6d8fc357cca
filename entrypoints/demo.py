"""``aimpay demo``: the paid journey, played on the offline harness and printed step by step; then
the playground at ``http://HOST:PORT/``, where a visitor plays the real bot in the browser.

Each demo keeps its database to itself (``var/demo-<port>.db``, wiped at its start), and a demo
whose port is taken refuses to start before it touches anything: a second ``aimpay demo`` never
disturbs one that runs."""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiogram import Bot
from dishka import AnyOf, AsyncContainer, Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender
from adapters.sql.migrate import upgrade_to_head
from adapters.telegram import TelegramNotifier, TelegramPacer, make_pacer
from application.ports.messaging import Notifier
from application.ports.payment_gateway import PaymentGateway
from application.terms import ShopTerms
from entrypoints.config import Settings, load_settings
from entrypoints.container import make_container
from entrypoints.offline import OfflineBotProvider, RecordingBotSession, checkout_routes
from entrypoints.playground.routes import playground_routes
from entrypoints.playground.world import DemoUser, Playground
from entrypoints.runtime import build_http_app, make_dispatcher, uvicorn_server

# The playground's people: they start fresh, whatever the printed journey did.
ADMIN = DemoUser(1000, "Admin", "admin")
REFERRER = DemoUser(1001, "Anna", "referrer")
BUYER = DemoUser(1002, "Boris", "buyer")
PLAYGROUND_USERS = (REFERRER, BUYER, ADMIN)
# The printed journey's people, whose chats the playground shows too.
JOURNEY_REFERRER = DemoUser(2001, "Vera", "journey's referrer")
JOURNEY_BUYER = DemoUser(2002, "Gleb", "journey's buyer")
COURSE_CHAT_ID = -1001234567890


class DemoGatewayProvider(Provider):
    def __init__(self, confirmation_url: str) -> None:
        super().__init__()
        self._url = confirmation_url

    @provide(scope=Scope.APP, override=True, provides=AnyOf[FakePaymentGateway, PaymentGateway])
    def gateway(self) -> FakePaymentGateway:
        return FakePaymentGateway(self._url)


class DemoNotifierProvider(Provider):
    """What the outbox sends goes through the real ``TelegramNotifier`` (paced like in
    production) to the recording bot, so it lands in the chats the playground shows."""

    @provide(scope=Scope.APP)
    async def pacer(self, settings: Settings) -> AsyncIterator[TelegramPacer]:
        pacer = make_pacer(None, settings.telegram_rate)
        yield pacer
        await pacer.close()

    @provide(scope=Scope.APP, override=True)
    def notifier(self, bot: Bot, pacer: TelegramPacer) -> Notifier:
        return TelegramNotifier(bot, pacer=pacer)


def demo_settings(database_url: str) -> Settings:
    return load_settings(
        database_url=database_url,
        course_title="Python for course authors",
        course_price="4990.00",
        course_chat_id=COURSE_CHAT_ID,
        referral_percent="10",
        admin_ids=str(ADMIN.id),
        yookassa_trusted_networks="127.0.0.1/32,::1/128",
        trusted_proxies="",
        redis_url=None,
        throttle_rate=100,
        throttle_period=1,
        telegram_webhook_secret=None,
        telegram_webhook_url=None,
    )


@dataclass
class Demo:
    """The demo's HTTP app (webhooks, checkout pages, the playground) and what it is made of."""

    app: Starlette
    base: str
    settings: Settings
    container: AsyncContainer
    playground: Playground
    session: RecordingBotSession
    gateway: FakePaymentGateway
    email: RecordingEmailSender
    course: FakeCourseAccess


async def build_demo(database_url: str, base: str) -> Demo:
    """The demo on ``database_url`` (migrated here), to be served at ``base``. The app's lifespan
    starts the outbox worker and closes the container when it stops."""
    settings = demo_settings(database_url)
    await upgrade_to_head(settings.database_url)
    session = RecordingBotSession()
    container = make_container(
        settings,
        offline=True,
        extra=[
            OfflineBotProvider(session),
            DemoGatewayProvider(base + "/demo/checkout/{payment_id}"),
            DemoNotifierProvider(),
        ],
    )
    bot = await container.get(Bot)
    gateway = await container.get(FakePaymentGateway)
    email = await container.get(RecordingEmailSender)
    course = await container.get(FakeCourseAccess)
    dispatcher = await make_dispatcher(container, settings)
    playground = Playground(
        dispatcher=dispatcher,
        bot=bot,
        session=session,
        course=course,
        email=email,
        gateway=gateway,
        engine=await container.get(AsyncEngine),
        terms=await container.get(ShopTerms),
        course_chat_id=COURSE_CHAT_ID,
        users=PLAYGROUND_USERS,
    )
    app = build_http_app(
        container,
        settings,
        bot,
        dispatcher,
        offline=True,
        extra_routes=[*checkout_routes(gateway, base + "/webhooks/yookassa"), *playground_routes(playground)],
    )
    playground.on_change = app.state.outbox_worker.wake
    return Demo(app, base, settings, container, playground, session, gateway, email, course)


def port_in_use(host: str, port: int) -> bool:
    """Whether a server listens on ``host:port`` already (bound as uvicorn binds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE  # anything else is uvicorn's to report
    return False


def demo_database(port: int) -> Path:
    return Path("var") / f"demo-{port}.db"


class Journey:
    def __init__(self, playground: Playground, out: Callable[[str], None]) -> None:
        self._playground = playground
        self._out = out

    async def say(self, user: DemoUser, text: str) -> list[str]:
        """``user`` sends ``text`` to the bot; returns (and prints) the bot's replies and their
        buttons' targets."""
        self._out(f"\n  {user.name} → bot: {text}")
        replies = await self._playground.send(user.id, text)
        found: list[str] = []
        for reply in replies:
            body = reply.text or ""
            self._out(f"  bot → {user.name}: " + body.replace("\n", "\n        "))
            found.append(body)
            for label, target in _buttons(reply.reply_markup):
                self._out(f"        [{label}]" + (f" → {target}" if target.startswith("http") else ""))
                found.append(target)
        return found


def _buttons(markup: dict[str, Any] | None) -> list[tuple[str, str]]:
    rows = (markup or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("url") or b.get("callback_data") or "") for row in rows for b in row]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


async def run_demo(
    host: str,
    port: int,
    *,
    once: bool,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = _stderr,
) -> int:
    if port_in_use(host, port):
        err(f"aimpay: port {port} is in use (another demo or server?): choose another with --port")
        return 1
    base = f"http://{host}:{port}"
    database = demo_database(port)
    database.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 - before anything runs
    out("aimpay demo: the paid journey on the offline harness (SQLite + fake YooKassa, Resend, Telegram)")
    out(f"  database: {database} (this demo's own, migrated to the latest schema)")
    demo = await build_demo(f"sqlite+aiosqlite:///{database}", base)
    playground, session = demo.playground, demo.session
    for user in (JOURNEY_REFERRER, JOURNEY_BUYER):
        playground.add_user(user)
    server = uvicorn_server(demo.app, host, port)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            return 1
        await asyncio.sleep(0.02)
    out(f"  HTTP app: {base} (the playground at /, GET /healthz, POST /webhooks/yookassa)")

    journey = Journey(playground, out)
    gateway, email, course = demo.gateway, demo.email, demo.course
    referrer, buyer = JOURNEY_REFERRER, JOURNEY_BUYER
    ok = True

    def check(condition: bool, what: str) -> None:
        nonlocal ok
        ok = ok and condition
        out(f"  {'✔' if condition else '✘'} {what}")

    def said_to(user_id: int, fragment: str) -> bool:
        return any(fragment in (e.text or "") for e in session.messages(user_id) if e.sender == "bot")

    try:
        out(f"\n1. The referrer ({referrer.name}) starts the bot and asks for her referral link")
        await journey.say(referrer, "/start")
        replies = await journey.say(referrer, "/ref")
        code = next((m.group(1) for r in replies if (m := re.search(r"\?start=([A-Za-z0-9_-]+)", r))), None)
        check(code is not None, f"referral code: {code}")

        out(f"\n2. The buyer ({buyer.name}) comes by her link and buys")
        await journey.say(buyer, f"/start {code}")
        await journey.say(buyer, "/buy")
        await journey.say(buyer, "not-an-email")
        replies = await journey.say(buyer, "gleb@example.com")
        pay_url = next((r for r in replies if "/demo/checkout/" in r), None)
        check(pay_url is not None, "a payment link to the (fake) YooKassa checkout")
        replies = await journey.say(buyer, "/buy")
        check(len(gateway.payments) == 1, "asking again gives the same payment, not a second one")
        payment_id = next(iter(gateway.payments))

        out("\n3. The buyer pays; YooKassa notifies POST /webhooks/yookassa; we re-fetch and confirm")
        mark = session.tick()
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
            page = await client.get(f"{base}/demo/checkout/{payment_id}")
            check(
                page.status_code == 200 and "no money moves" in page.text.lower(),
                "the demo checkout page says what it is",
            )
            paid = await client.post(f"{base}/demo/checkout/{payment_id}")
            location = paid.headers.get("location", "")
            check(
                paid.status_code == 303 and location.endswith("notified=200"),
                f"checkout page: payment {payment_id} succeeded, the webhook answered 200",
            )
            replay = await client.post(
                f"{base}/webhooks/yookassa",
                json={"type": "notification", "event": "payment.succeeded", "object": {"id": payment_id}},
            )
            out(f"  the same notification again → {replay.status_code} {replay.json()}")

        out("\n4. After commit the outbox delivers: invite link by Telegram and email, notes to referrer and admin")
        for _ in range(200):
            if (
                said_to(buyer.id, "t.me/+")
                and email.sent
                and said_to(referrer.id, "499.00")
                and any(e.sender == "bot" for e in session.messages(ADMIN.id))
            ):
                break
            await asyncio.sleep(0.05)
        for chat_id in (ADMIN.id, referrer.id, buyer.id):
            for entry in session.messages(chat_id):
                if entry.sender == "bot" and entry.version > mark:
                    out(f"  telegram → {chat_id}: " + (entry.text or "").replace("\n", "\n        "))
        for key, mail in email.sent.items():
            out(f"  email → {mail.to} «{mail.subject}» (idempotency key {key})")
        check(said_to(buyer.id, "t.me/+"), "the buyer got the invite link in the chat")
        check(len(course.invites) == 1, "exactly one one-time invite link was created")
        link = next(iter(course.invites), "")
        joined = await playground.join(buyer.id, link) if link else None
        check(joined is not None and joined.joined and joined.stayed, "the buyer joins the course chat with it")
        check(bool(link) and course.invites[link].revoked, "and the link is spent (revoked) once used")
        check(len(email.sent) == 1, "exactly one email")

        out("\n5. The referrer sees the credit; the buyer cannot be charged twice")
        replies = await journey.say(referrer, "/ref")
        check(any("499.00" in r for r in replies), "referrer balance: 499.00 (10% of 4990.00)")
        await journey.say(buyer, "/buy")
        check(len(gateway.payments) == 1, "no second payment for a customer who paid")
    except Exception as exc:  # noqa: BLE001 - a demo that breaks says so and exits non-zero
        out(f"  ✘ the demo failed: {exc!r}")
        ok = False

    out("\n" + ("The journey completed." if ok else "The journey did NOT complete as expected."))
    if not once and ok:
        out(f"\nThe playground: open {base}/ in a browser and play the bot yourself as")
        out(
            f"  {REFERRER.name} (a referrer), {BUYER.name} (a buyer) or the admin (id {ADMIN.id}); nothing leaves this machine."
        )
        out(f"Serving {base} until Ctrl-C.")
        try:
            await serving
        except asyncio.CancelledError:
            pass
        return 0
    server.should_exit = True
    await serving
    return 0 if ok else 1
