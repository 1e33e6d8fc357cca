"""The sandbox (``AIMPAY_PAYMENTS=sandbox``, ``AIMPAY_EMAIL=log``, no course chat): the real bot
as production wires it (``make_container`` + ``make_dispatcher``) over a migrated SQLite file,
talking to the Bot API stand-in; updates fed through ``dp.feed_raw_update``. A YooKassa stand-in
is configured as the API URL only to show that nothing ever calls it."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod

from adapters.sandbox import SandboxCourseAccess, SandboxPaymentGateway
from adapters.sql.migrate import upgrade_to_head
from application.ports.messaging import CourseAccess
from domain.customer import Language
from domain.ids import TelegramId
from domain.purchase import PaymentStatus
from entrypoints.config import load_settings
from entrypoints.container import make_container
from entrypoints.outbox_worker import OutboxWorker
from entrypoints.runtime import build_http_app, make_dispatcher
from tests.standins.server import serve_asgi
from tests.standins.telegram import SentMessage, TelegramBotApiStandIn, callback_update, message_update
from tests.standins.yookassa import YooKassaStandIn
from tests.unit.harness import CATALOG

text = CATALOG.text
RU = Language.RU
BUYER, STRANGER, ADMIN = 501, 502, 900
BOT = "https://t.me/aimpay_test_bot"
TITLE = "Python for course authors"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``AIMPAY_*`` variable from the caller, no ``.env``."""
    for name in list(os.environ):
        if name.startswith("AIMPAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@dataclass
class Sandbox:
    dp: Dispatcher
    bot: Bot
    api: TelegramBotApiStandIn
    yookassa: YooKassaStandIn
    worker: OutboxWorker
    gateway: SandboxPaymentGateway
    course: CourseAccess

    async def send(self, user_id: int, body: str) -> list[SentMessage]:
        return await self._feed(user_id, message_update(user_id, body))

    async def press(self, user_id: int, data: str) -> list[SentMessage]:
        return await self._feed(user_id, callback_update(user_id, data))

    async def _feed(self, user_id: int, update: dict[str, Any]) -> list[SentMessage]:
        before = len(self.api.sent_messages)
        answer = await self.dp.feed_raw_update(self.bot, update)
        if isinstance(answer, TelegramMethod):  # returned to be sent, as polling does
            await self.bot(answer)
        return [m for m in self.api.sent_messages[before:] if m.chat_id == user_id]

    async def deliver_outbox(self) -> list[SentMessage]:
        """Runs the outbox worker until nothing is left; what it sent to Telegram."""
        before = len(self.api.sent_messages)
        for _ in range(20):
            if not await self.worker.run_once():
                break
        return self.api.sent_messages[before:]

    async def buy(self, user_id: int, email: str = "buyer@example.com") -> str:
        """/start, /buy and the email; returns the payment button's URL."""
        await self.send(user_id, "/start")
        await self.send(user_id, "/buy")
        [reply] = await self.send(user_id, email)
        [button] = reply.url_buttons
        return str(button["url"])


def sandbox_settings(tmp_path: Path, api_url: str, token: str, yookassa_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
        "payments": "sandbox",
        "email": "log",
        "bot_token": token,
        "telegram_api_url": api_url,
        "yookassa_api_url": f"{yookassa_url}/v3",
        "admin_ids": str(ADMIN),
        "course_title": TITLE,
        "redis_url": None,
        "throttle_rate": 100,
    }
    values.update(overrides)
    settings = load_settings(command="bot", **values)
    assert settings.missing_for("serve") == []  # a token is all the sandbox needs
    return settings


@pytest.fixture
async def yookassa() -> AsyncIterator[tuple[YooKassaStandIn, str]]:
    stand_in = YooKassaStandIn()
    async with serve_asgi(stand_in.app) as url:
        yield stand_in, url


@pytest.fixture
async def sandbox(
    tmp_path: Path, api: TelegramBotApiStandIn, api_url: str, yookassa: tuple[YooKassaStandIn, str]
) -> AsyncIterator[Sandbox]:
    settings = sandbox_settings(tmp_path, api_url, api.token, yookassa[1])
    await upgrade_to_head(settings.database_url)
    container = make_container(settings)
    try:
        bot = await container.get(Bot)
        dp = await make_dispatcher(container, settings)
        worker = OutboxWorker(container)
        await dp.emit_startup(bot=bot)
        yield Sandbox(
            dp,
            bot,
            api,
            yookassa[0],
            worker,
            await container.get(SandboxPaymentGateway),
            await container.get(CourseAccess),
        )
        await dp.emit_shutdown(bot=bot)
    finally:
        await container.close()


@dataclass
class Waker:
    woken: list[bool]

    def wake(self) -> None:
        self.woken.append(True)


def payment_id_of(url: str) -> str:
    match = re.fullmatch(re.escape(BOT) + r"\?start=sandboxpay_([0-9a-f]{32})", url)
    assert match, url
    return match.group(1)


async def test_the_sandbox_journey_in_real_telegram_moves_no_money(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.sandbox")
    # /start, /buy, the email: the payment button is a deep link back into the bot.
    pay_url = await sandbox.buy(BUYER, "boris@example.com")
    payment_id = payment_id_of(pay_url)

    # Following it opens the sandbox checkout: no money moves, Pay or Cancel.
    [checkout] = await sandbox.send(BUYER, f"/start sandboxpay_{payment_id}")
    assert checkout.text == text(RU, "sandbox.checkout", title=TITLE, price="4990.00")
    assert checkout.callback_data == [f"sandbox:pay:{payment_id}", f"sandbox:cancel:{payment_id}"]

    # Pay: the payment succeeds and is confirmed as YooKassa's notification would, and the
    # outbox worker put in the dispatcher is woken.
    woken: list[bool] = []
    sandbox.dp["outbox_worker"] = Waker(woken)
    [paid] = await sandbox.press(BUYER, f"sandbox:pay:{payment_id}")
    assert paid.text == text(RU, "sandbox.paid")
    assert woken == [True]
    payment = sandbox.gateway.payment(payment_id)
    assert payment is not None and payment.status is PaymentStatus.SUCCEEDED

    # The outbox delivers the invite link by Telegram and logs the email.
    sent = await sandbox.deliver_outbox()
    [invite] = [m for m in sent if m.chat_id == BUYER]
    link = re.search(re.escape(BOT) + r"\?start=sandboxcourse_([A-Za-z0-9_-]+)", invite.text)
    assert link, invite.text
    assert [b["url"] for b in invite.url_buttons] == [link.group(0)]
    assert any(m.chat_id == ADMIN for m in sent)  # the admin's sale note
    emails = [r.getMessage() for r in caplog.records if r.name == "adapters.sandbox.email"]
    assert len(emails) == 1 and "boris@example.com" in emails[0] and link.group(0) in emails[0]
    assert sandbox.yookassa.requests_log == []  # YooKassa was never called

    # Opening the invite link "joins" the course: /buy then says so, and no second payment.
    [joined] = await sandbox.send(BUYER, f"/start sandboxcourse_{link.group(1)}")
    assert joined.text == text(RU, "sandbox.course_joined", title=TITLE)
    assert isinstance(sandbox.course, SandboxCourseAccess) and TelegramId(BUYER) in sandbox.course.members
    [again] = await sandbox.send(BUYER, "/buy")
    assert again.text == text(RU, "already_in_course")

    # Pressing Pay again, or the spent link, or the paid payment's link: clear answers.
    [twice] = await sandbox.press(BUYER, f"sandbox:pay:{payment_id}")
    assert twice.text == text(RU, "sandbox.already_paid")
    [spent] = await sandbox.send(STRANGER, f"/start sandboxcourse_{link.group(1)}")
    assert spent.text == text(RU, "sandbox.course_link_unusable")
    [reopened] = await sandbox.send(BUYER, f"/start sandboxpay_{payment_id}")
    assert reopened.text == text(RU, "sandbox.already_paid")
    await sandbox.deliver_outbox()
    assert len([r for r in caplog.records if r.name == "adapters.sandbox.email"]) == 1


async def test_cancel_cancels_the_sandbox_payment_and_a_new_buy_opens_another(sandbox: Sandbox) -> None:
    payment_id = payment_id_of(await sandbox.buy(BUYER))
    [canceled] = await sandbox.press(BUYER, f"sandbox:cancel:{payment_id}")
    assert canceled.text == text(RU, "sandbox.canceled")
    payment = sandbox.gateway.payment(payment_id)
    assert payment is not None and payment.status is PaymentStatus.CANCELED
    sent = await sandbox.deliver_outbox()
    assert [m.text for m in sent if m.chat_id == BUYER] == [text(RU, "payment.canceled")]

    [late] = await sandbox.press(BUYER, f"sandbox:pay:{payment_id}")
    assert late.text == text(RU, "sandbox.already_canceled")
    [reply] = await sandbox.send(BUYER, "/buy")  # the email is asked again for a new purchase
    assert reply.text == text(RU, "ask_email")
    [link] = await sandbox.send(BUYER, "vera@example.com")
    assert payment_id_of(link.url_buttons[0]["url"]) != payment_id


async def test_an_unknown_or_forgotten_sandbox_payment_gets_a_clear_answer(sandbox: Sandbox) -> None:
    await sandbox.send(BUYER, "/start")
    [reply] = await sandbox.send(BUYER, "/start sandboxpay_" + "0" * 32)
    assert reply.text == text(RU, "sandbox.unknown_payment")
    [pressed] = await sandbox.press(BUYER, "sandbox:pay:" + "0" * 32)
    assert pressed.text == text(RU, "sandbox.unknown_payment")
    [cancel] = await sandbox.press(BUYER, "sandbox:cancel:nonsense")
    assert cancel.text == text(RU, "sandbox.unknown_payment")


async def test_the_same_open_sandbox_payment_is_offered_again(sandbox: Sandbox) -> None:
    first = await sandbox.buy(BUYER)
    [again] = await sandbox.send(BUYER, "/buy")
    assert again.url_buttons[0]["url"] == first


async def test_a_link_passed_on_to_somebody_else_is_refused_like_the_course_chat_would(sandbox: Sandbox) -> None:
    payment_id = payment_id_of(await sandbox.buy(BUYER))
    await sandbox.press(BUYER, f"sandbox:pay:{payment_id}")
    sent = await sandbox.deliver_outbox()
    [invite] = [m for m in sent if m.chat_id == BUYER]
    token = re.search(r"sandboxcourse_([A-Za-z0-9_-]+)", invite.text)
    assert token
    await sandbox.send(STRANGER, "/start")
    [reply] = await sandbox.send(STRANGER, f"/start sandboxcourse_{token.group(1)}")
    assert reply.text == text(RU, "sandbox.course_passed_on")
    assert isinstance(sandbox.course, SandboxCourseAccess) and TelegramId(STRANGER) not in sandbox.course.members


async def test_with_a_public_url_the_invite_link_is_a_page_that_says_what_would_happen(
    tmp_path: Path, api: TelegramBotApiStandIn, api_url: str, yookassa: tuple[YooKassaStandIn, str]
) -> None:
    settings = sandbox_settings(tmp_path, api_url, api.token, yookassa[1], public_url="https://pay.example.com")
    await upgrade_to_head(settings.database_url)
    container = make_container(settings)
    bot = await container.get(Bot)
    dispatcher = await make_dispatcher(container, settings)
    app = build_http_app(container, settings, bot, dispatcher)  # its lifespan is not run here
    try:
        course = await container.get(CourseAccess)
        assert isinstance(course, SandboxCourseAccess)
        link = await course.create_invite("aimpay 1234abcd", datetime.now(UTC) + timedelta(hours=1))
        assert link.startswith("https://pay.example.com/sandbox/course/")
        path = link.removeprefix("https://pay.example.com")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            page = await client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9"})
            unknown = await client.get("/sandbox/course/nope")
        assert page.status_code == 200
        assert "no money moves" in page.text and TITLE in page.text
        assert f"{BOT}?start=sandboxcourse_{path.rsplit('/', 1)[1]}" in page.text
        assert unknown.status_code == 404  # in Russian without an Accept-Language
        assert text(RU, "sandbox.course_page_unknown").split("\n")[0] in unknown.text
    finally:
        await container.close()
