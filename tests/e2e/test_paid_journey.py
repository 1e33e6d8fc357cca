"""The paid journey end to end: the real HTTP app under uvicorn, the real container with the real
adapters, driven the way the outside world drives it. Telegram posts updates to
``/webhooks/telegram``; the bot answers through the real aiogram client to a stand-in Bot API;
YooKassa (a stand-in, reached by the real SDK) notifies ``/webhooks/yookassa``; Resend (a
stand-in, reached by httpx) receives the email."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiogram import Bot

from adapters.sql import upgrade_to_head
from domain.customer import Language
from entrypoints.config import load_settings
from entrypoints.container import make_container
from entrypoints.runtime import build_http_app, make_dispatcher, uvicorn_server
from tests.standins.resend import ResendStandIn
from tests.standins.server import free_port, serve_asgi
from tests.standins.telegram import TelegramBotApiStandIn, message_update
from tests.standins.yookassa import YooKassaStandIn
from tests.unit.harness import CATALOG

text = CATALOG.text

REFERRER, BUYER, ADMIN = 1001, 1002, 900
CHAT = -1001234567890
SECRET = "e2e-webhook-secret-0123456789abcdef"


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Waits for a condition that other processes' work makes true (bounded polling)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@dataclass
class World:
    base: str
    telegram: TelegramBotApiStandIn
    yookassa: YooKassaStandIn
    resend: ResendStandIn
    http: httpx.AsyncClient

    async def say(self, user: int, text: str, **kwargs: object) -> list[str]:
        """``user`` sends ``text``; Telegram posts it to our webhook; returns the bot's replies."""
        before = len(self.telegram.messages_to(user))
        response = await self.telegram.post_to_webhook(message_update(user, text, **kwargs))  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return [m.text for m in self.telegram.messages_to(user)[before:]]

    def buttons(self, user: int) -> list[str]:
        return [b["url"] for b in self.telegram.messages_to(user)[-1].url_buttons]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    telegram = TelegramBotApiStandIn(username="aimpay_e2e_bot")
    yookassa = YooKassaStandIn(require_receipt=True)
    resend = ResendStandIn()
    async with serve_asgi(telegram.app) as tg_url, serve_asgi(yookassa.app) as yk_url, serve_asgi(resend.app) as rs_url:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}",
            bot_token=telegram.token,
            telegram_api_url=tg_url,
            telegram_webhook_secret=SECRET,
            telegram_webhook_url=f"{base}/webhooks/telegram",
            admin_ids=str(ADMIN),
            course_title="Python for course authors",
            course_price="4990.00",
            course_chat_id=CHAT,
            referral_percent="10",
            yookassa_shop_id=yookassa.shop_id,
            yookassa_secret_key=yookassa.secret_key,
            yookassa_api_url=f"{yk_url}/v3",
            yookassa_trusted_networks="127.0.0.1/32",
            yookassa_receipts=True,
            resend_api_key=resend.api_key,
            resend_api_url=rs_url,
            email_from="Course <course@example.com>",
            redis_url=None,
            throttle_rate=100,  # one person types this whole journey within a second
        )
        await upgrade_to_head(settings.database_url)
        container = make_container(settings)
        bot = await container.get(Bot)
        app = build_http_app(container, settings, bot, await make_dispatcher(container, settings))
        server = uvicorn_server(app, "127.0.0.1", port)
        serving = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(10):
                while not server.started:
                    assert not serving.done(), serving
                    await asyncio.sleep(0.01)
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                yield World(base, telegram, yookassa, resend, http)
        finally:
            telegram.shutdown()
            server.should_exit = True
            await asyncio.wait_for(serving, 15)


async def test_referral_purchase_access_and_credit(world: World) -> None:
    tg, yk = world.telegram, world.yookassa
    # `serve` registered its webhook with Telegram at start-up, with the secret token.
    assert tg.webhook.url == f"{world.base}/webhooks/telegram"
    assert tg.webhook.secret_token == SECRET

    # The referrer starts the bot and takes her referral link.
    await world.say(REFERRER, "/start", first_name="Anna")
    (ref,) = await world.say(REFERRER, "/ref", first_name="Anna")
    code = re.search(r"https://t\.me/aimpay_e2e_bot\?start=([A-Za-z0-9_-]+)", ref)
    assert code, ref

    # The buyer comes by it, buys, gives a bad then a good email, and gets a payment button.
    await world.say(BUYER, f"/start {code.group(1)}", first_name="Boris", language_code="en")
    await world.say(BUYER, "/buy", first_name="Boris", language_code="en")
    (bad,) = await world.say(BUYER, "boris(at)example", first_name="Boris", language_code="en")
    assert "does not look like an email" in bad
    await world.say(BUYER, "Boris@Example.com", first_name="Boris", language_code="en")
    assert yk.create_count == 1
    (payment_id,) = yk.payments
    payment = yk.payments[payment_id]
    assert world.buttons(BUYER) == [payment["confirmation"]["confirmation_url"]]
    assert payment["amount"] == {"value": "4990.00", "currency": "RUB"}
    create = next(r for r in yk.requests_log if r.method == "POST")
    assert create.body["receipt"]["customer"] == {"email": "Boris@example.com"}

    # Asking again gives the same payment, without asking for the email again.
    (reused,) = await world.say(BUYER, "/buy", first_name="Boris", language_code="en")
    assert "already have an unpaid invoice" in reused and "Boris@example.com" in reused
    assert yk.create_count == 1
    assert world.buttons(BUYER) == [payment["confirmation"]["confirmation_url"]]

    # The buyer pays; YooKassa notifies us, twice, and once more concurrently.
    yk.succeed(payment_id)
    notification = yk.notification(payment_id)
    first = await world.http.post("/webhooks/yookassa", json=notification)
    assert first.status_code == 200 and first.json() == {"outcome": "paid"}
    again = await asyncio.gather(*(world.http.post("/webhooks/yookassa", json=notification) for _ in range(5)))
    assert [r.json()["outcome"] for r in again] == ["unchanged"] * 5

    # After commit the outbox delivers: one invite link, by Telegram and by email.
    def delivered() -> bool:
        return bool(world.resend.emails) and any(
            tg.invite_links[key].invite_link in m.text for key in tg.invite_links for m in tg.messages_to(BUYER)
        )

    await eventually(lambda: delivered() and bool(tg.messages_to(REFERRER)[2:]) and bool(tg.messages_to(ADMIN)))
    (link,) = tg.invite_links.values()
    assert link.member_limit == 1 and link.chat_id == CHAT and link.expire_date
    (email,) = world.resend.emails
    assert email.to == ("Boris@example.com",)
    assert link.invite_link in (email.text or "") and link.invite_link in (email.html or "")
    assert any(link.invite_link in b["url"] for m in tg.messages_to(BUYER) for b in m.url_buttons)
    assert "499.00" in tg.messages_to(REFERRER)[-1].text

    # The referrer's /ref shows the credit.
    (ref,) = await world.say(REFERRER, "/ref", first_name="Anna")
    assert "1 приглашённый, из них 1 оплатил" in ref and "499.00" in ref

    # Paid, not in the chat yet: /buy gives a new one-time link and revokes the first.
    (reissued,) = await world.say(BUYER, "/buy", first_name="Boris", language_code="en")
    assert "new one-time link" in reissued
    assert len(tg.invite_links) == 2 and tg.invite_links[link.invite_link].revoked
    # In the chat: told so, never charged again.
    tg.members.add(BUYER)
    (told,) = await world.say(BUYER, "/buy", first_name="Boris", language_code="en")
    assert "already paid" in told
    assert yk.create_count == 1 and len(world.resend.emails) == 1


async def test_a_forged_or_foreign_update_changes_nothing(world: World) -> None:
    wrong = await world.telegram.post_to_webhook(
        message_update(REFERRER, "/start"), secret_token="wrong-secret-0123456789"
    )
    assert wrong.status_code == 401
    assert world.telegram.messages_to(REFERRER) == []
    outside = await world.http.post(
        "/webhooks/yookassa",
        json={"type": "notification", "event": "payment.succeeded", "object": {"id": "x"}},
        headers={"X-Forwarded-For": "185.71.76.5"},
    )
    assert outside.status_code == 200 and outside.json()["outcome"] == "not_ours"
    health = await world.http.get("/healthz")
    assert health.status_code == 200


async def _checkout(world: World, user: int, email: str = "vera@example.com") -> str:
    """``user`` starts the bot and asks to pay; returns the payment id YooKassa made."""
    await world.say(user, "/start", first_name="Vera")
    await world.say(user, "/buy", first_name="Vera")
    await world.say(user, email, first_name="Vera")
    (payment_id,) = [p for p, body in world.yookassa.payments.items() if body["status"] == "pending"]
    return payment_id


async def test_a_canceled_payment_is_told_to_the_buyer_who_can_pay_again(world: World) -> None:
    tg, yk = world.telegram, world.yookassa
    payment_id = await _checkout(world, 3001)
    yk.cancel(payment_id)
    answer = await world.http.post("/webhooks/yookassa", json=yk.notification(payment_id))
    assert answer.json() == {"outcome": "canceled"}
    told = text(Language.RU, "payment.canceled")
    await eventually(lambda: any(m.text == told for m in tg.messages_to(3001)))
    # A late "succeeded" for it never revives it (YooKassa would not send one; a forged body is
    # not believed either: we re-fetch and act on YooKassa's answer only).
    forged = {"type": "notification", "event": "payment.succeeded", "object": {"id": payment_id, "status": "succeeded"}}
    assert (await world.http.post("/webhooks/yookassa", json=forged)).json() == {"outcome": "unchanged"}
    # The next /buy is a new payment, not the canceled one.
    await world.say(3001, "/buy", first_name="Vera")
    await world.say(3001, "vera@example.com", first_name="Vera")
    assert yk.create_count == 2 and not tg.invite_links


async def test_a_payment_whose_amount_differs_is_refused_and_grants_nothing(world: World) -> None:
    yk = world.yookassa
    payment_id = await _checkout(world, 3002)
    yk.payments[payment_id]["amount"]["value"] = "1.00"  # YooKassa says: 1 ruble was paid
    yk.succeed(payment_id)
    answer = await world.http.post("/webhooks/yookassa", json=yk.notification(payment_id))
    assert answer.status_code == 200 and answer.json() == {"outcome": "mismatch"}
    alert = text(
        Language.RU, "admin.payment_mismatch", payment_id=payment_id, purchase_id=yk.payments[payment_id]["metadata"]["purchase_id"],
        amount="1.00", amount_currency="RUB", price="4990.00", price_currency="RUB",
    )  # fmt: skip
    await eventually(lambda: [m.text for m in world.telegram.messages_to(ADMIN)] == [alert])
    # The buyer is neither given access nor asked to pay a second time beside the disputed payment.
    (reply,) = await world.say(3002, "/buy", first_name="Vera")
    assert reply == text(Language.RU, "payment_on_hold")
    assert yk.create_count == 1 and not world.telegram.invite_links and not world.resend.emails
    again = await world.http.post("/webhooks/yookassa", json=yk.notification(payment_id))
    assert again.json() == {"outcome": "mismatch"}


async def test_telegram_and_resend_down_lose_nothing_and_double_nothing(world: World) -> None:
    tg, yk = world.telegram, world.yookassa
    payment_id = await _checkout(world, 3003, "vera3@example.com")
    tg.fail_next("createChatInviteLink", 500, "Internal Server Error")  # Telegram down for the link
    world.resend.fail_next(503)  # and Resend down for the email
    yk.succeed(payment_id)
    assert (await world.http.post("/webhooks/yookassa", json=yk.notification(payment_id))).json() == {"outcome": "paid"}
    # The outbox tries again with backoff (2 s, then 4 s) until both are back.
    await eventually(
        lambda: (
            bool(world.resend.emails)
            and bool(tg.invite_links)
            and any(link in m.text for link in tg.invite_links for m in tg.messages_to(3003))
        ),
        timeout=30,
    )
    assert len(tg.calls_of("createChatInviteLink")) == 2  # one failed, one made the link
    assert len(tg.invite_links) == 1 and len(world.resend.emails) == 1
    (link,) = tg.invite_links
    assert len([m for m in tg.messages_to(3003) if link in m.text]) == 1
    assert link in (world.resend.emails[0].text or "")
