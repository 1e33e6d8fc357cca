"""The outside world for the benchmark, in a process of its own: the loopback stand-ins of the
Bot API, YooKassa and Resend (from ``tests/standins``), each on its own 127.0.0.1 port, and a
small control app the load generator uses to set up payments and to check what the server did.

Run ``python -m benchmarks.standins`` from the repository root. Once every server listens, one
JSON line goes to stdout: ``{"telegram": url, "yookassa": url, "resend": url, "control": url}``
(``yookassa`` is the API base, ``.../v3``). The process runs until its stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.standins.resend import ResendStandIn
from tests.standins.server import serve_asgi
from tests.standins.telegram import TelegramBotApiStandIn
from tests.standins.yookassa import YooKassaStandIn

BOT_TOKEN = "123456789:AAbenchmark-token_for-loopback-only00"
SHOP_ID = "100500"
SECRET_KEY = "test_benchmark_secret_key"
RESEND_KEY = "re_benchmark_key"


class Control:
    """Set-up and checks, run in the stand-ins' own event loop (their state lives there)."""

    def __init__(self, telegram: TelegramBotApiStandIn, yookassa: YooKassaStandIn, resend: ResendStandIn) -> None:
        self.telegram = telegram
        self.yookassa = yookassa
        self.resend = resend
        self.app = Starlette(
            routes=[
                Route("/stats", self.stats, methods=["GET"]),
                Route("/telegram/replied", self.replied, methods=["POST"]),
                Route("/yookassa/succeed-pending", self.succeed_pending, methods=["POST"]),
            ]
        )

    async def stats(self, request: Request) -> JSONResponse:
        calls: dict[str, int] = {}
        for call in self.telegram.calls:
            calls[call.method] = calls.get(call.method, 0) + 1
        payments = self.yookassa.payments.values()
        return JSONResponse(
            {
                "telegram_calls": calls,
                "invite_links": len(self.telegram.invite_links),
                "payments": len(self.yookassa.payments),
                "payments_succeeded": sum(1 for p in payments if p["status"] == "succeeded"),
                "payment_fetches": sum(1 for r in self.yookassa.requests_log if r.method == "GET"),
                "emails": len(self.resend.emails),
            }
        )

    async def replied(self, request: Request) -> JSONResponse:
        """How many of the given chats got at least one message from the bot."""
        chats = set((await request.json())["chat_ids"])
        answered = {m.chat_id for m in self.telegram.sent_messages if m.chat_id in chats}
        return JSONResponse({"replied": len(answered)})

    async def succeed_pending(self, request: Request) -> JSONResponse:
        """Every pending payment is paid; answers the ``payment.succeeded`` notification bodies."""
        pending = [pid for pid, p in self.yookassa.payments.items() if p["status"] == "pending"]
        for payment_id in pending:
            self.yookassa.succeed(payment_id)
        notifications: list[dict[str, Any]] = [self.yookassa.notification(pid) for pid in pending]
        return JSONResponse({"notifications": notifications})


async def main() -> None:
    telegram = TelegramBotApiStandIn(token=BOT_TOKEN, username="aimpay_bench_bot")
    yookassa = YooKassaStandIn(SHOP_ID, SECRET_KEY)
    resend = ResendStandIn(RESEND_KEY)
    control = Control(telegram, yookassa, resend)
    async with contextlib.AsyncExitStack() as stack:
        urls = {
            "telegram": await stack.enter_async_context(serve_asgi(telegram.app)),
            "yookassa": await stack.enter_async_context(serve_asgi(yookassa.app)) + "/v3",
            "resend": await stack.enter_async_context(serve_asgi(resend.app)),
            "control": await stack.enter_async_context(serve_asgi(control.app)),
        }
        print(json.dumps(urls), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
        telegram.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
