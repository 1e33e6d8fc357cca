"""The offline harness: the whole platform with YooKassa, Resend and Telegram faked in memory.

Used by ``aimpay demo`` and by tests that want the real wiring without the outside world. The
fakes stand only where a real service would: SQLite, migrations, use cases, the bot's handlers
and the HTTP app are the production ones."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import GetMe, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from dishka import Provider, Scope, provide
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.fakes.gateways import FakePaymentGateway

DEMO_BOT_USERNAME = "aimpay_demo_bot"
DEMO_BOT_TOKEN = "123456789:" + "D" * 35


@dataclass(frozen=True)
class BotReply:
    chat_id: int
    text: str
    buttons: tuple[tuple[str, str], ...]  # (text, url or callback data)


class RecordingBotSession(BaseSession):
    """A Bot API that answers locally and records what the bot said, in place of Telegram."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: list[BotReply] = []
        self._message_ids = itertools.count(1)

    async def close(self) -> None:
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        result: Any = True
        if isinstance(method, GetMe):
            result = {"id": bot.id, "is_bot": True, "first_name": "aimpay demo", "username": DEMO_BOT_USERNAME}
        elif isinstance(method, SendMessage):
            markup = method.reply_markup
            buttons: list[tuple[str, str]] = []
            for row in getattr(markup, "inline_keyboard", None) or ():
                buttons.extend((b.text, b.url or b.callback_data or "") for b in row)
            for row in getattr(markup, "keyboard", None) or ():
                buttons.extend((b.text, "") for b in row)
            self.replies.append(BotReply(int(method.chat_id), method.text, tuple(buttons)))
            result = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(method.chat_id), "type": "private"},
                "text": method.text,
            }
        response = self.check_response(bot, method, 200, json.dumps({"ok": True, "result": result}))
        return response.result  # type: ignore[return-value]

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        raise NotImplementedError("the demo bot downloads nothing")
        yield b""


class OfflineBotProvider(Provider):
    """A real aiogram ``Bot`` whose session is the recording one."""

    def __init__(self, session: RecordingBotSession) -> None:
        super().__init__()
        self._session = session

    @provide(scope=Scope.APP)
    def bot(self) -> Bot:
        return Bot(DEMO_BOT_TOKEN, session=self._session)


def checkout_routes(gateway: FakePaymentGateway, webhook_url: str) -> list[Route]:
    """A stand-in for YooKassa's checkout page: paying there moves the fake payment to
    ``succeeded`` and sends the notification to our own webhook, as YooKassa would."""

    async def page(request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        payment = gateway.payments.get(payment_id)
        if payment is None:
            return HTMLResponse("<h1>No such payment</h1>", status_code=404)
        if request.method == "POST":
            gateway.succeed(payment_id)
            await send_notification(webhook_url, payment_id)
            return RedirectResponse(f"/demo/checkout/{payment_id}", status_code=303)
        state = payment.status.value
        button = "" if state != "pending" else '<form method="post"><button type="submit">Pay (demo)</button></form>'
        return HTMLResponse(
            f"<h1>Demo checkout</h1><p>Payment {payment_id}: {payment.amount}</p><p>Status: <b>{state}</b></p>{button}"
        )

    return [Route("/demo/checkout/{payment_id}", page, methods=["GET", "POST"])]


async def send_notification(webhook_url: str, payment_id: str, event: str = "payment.succeeded") -> httpx.Response:
    body = {"type": "notification", "event": event, "object": {"id": payment_id, "status": event.split(".")[1]}}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(webhook_url, json=body)
