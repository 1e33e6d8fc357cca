"""The Bot API stand-in itself, as the end-to-end tests use it: long polling and webhooks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.customer import Language
from tests.bot.wiring import wired_dispatcher
from tests.standins.server import serve_asgi
from tests.standins.telegram import TelegramBotApiStandIn, message_update
from tests.unit.harness import CATALOG, Harness

text = CATALOG.text


async def test_dispatcher_polls_the_stand_in(bot: Bot, api: TelegramBotApiStandIn) -> None:
    h = Harness()
    async with wired_dispatcher(h, bot) as dp:
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
        try:
            api.push_update(message_update(7, "/help"))
            api.push_update(message_update(8, "/help", language_code="en"))
            await api.wait_for(lambda: len(api.sent_messages) == 2)
            # both updates are confirmed by the next poll
            await api.wait_for(lambda: any(c.params.get("offset") == 3 for c in api.calls_of("getUpdates")))
        finally:
            await dp.stop_polling()
            await asyncio.wait_for(polling, timeout=10)
    assert api.messages_to(7)[0].text == text(Language.RU, "help", title=h.terms.course_title, percent="10%")
    assert api.messages_to(8)[0].text == text(Language.EN, "help", title=h.terms.course_title, percent="10%")


async def test_updates_go_to_the_webhook_with_its_secret(bot: Bot, api: TelegramBotApiStandIn) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: Request) -> Response:
        received.append((request.headers.get("x-telegram-bot-api-secret-token"), await request.json()))
        return Response(status_code=200)

    async with serve_asgi(Starlette(routes=[Route("/webhooks/telegram", hook, methods=["POST"])])) as app_url:
        assert await bot.set_webhook(f"{app_url}/webhooks/telegram", secret_token="s3cret_-token")
        info = await bot.get_webhook_info()
        assert info.url == f"{app_url}/webhooks/telegram"
        assert api.webhook.secret_token == "s3cret_-token"
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()
        response = await api.post_to_webhook(message_update(5, "/start"))
    assert response.status_code == 200
    [(secret, update)] = received
    assert secret == "s3cret_-token"
    assert update["message"]["text"] == "/start" and update["update_id"] == 1
    assert await bot.delete_webhook()
    assert api.webhook.url == ""


async def test_failures_on_demand_are_counted(bot: Bot, api: TelegramBotApiStandIn) -> None:
    api.fail_next("getMe", 500, "Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(Exception, match="Internal Server Error"):
            await bot.get_me()
    me = await bot.get_me()
    assert (me.username, me.id) == ("aimpay_test_bot", api.bot_id)


async def test_json_bodies_and_wrong_tokens(api: TelegramBotApiStandIn, api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as client:
        sent = await client.post(
            f"/bot{api.token}/sendMessage", json={"chat_id": 3, "text": "12", "reply_markup": None}
        )
        refused = await client.post("/bot1:wrong/sendMessage", json={"chat_id": 3, "text": "x"})
        unknown = await client.post(f"/bot{api.token}/sendDice", json={"chat_id": 3})
    assert sent.json()["result"]["text"] == "12" and api.messages_to(3)[0].text == "12"
    assert (refused.status_code, refused.json()["ok"]) == (401, False)
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
