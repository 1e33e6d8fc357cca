"""``POST /webhooks/telegram``: updates pushed by Telegram, checked by their secret token."""

from __future__ import annotations

import logging
import secrets

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from entrypoints.http.body import BadBody, BodyTooLarge, read_json

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


class TelegramWebhook:
    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret: str) -> None:
        self._dispatcher = dispatcher
        self._bot = bot
        self._secret = secret.encode()

    async def handle(self, request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "").encode()
        if not secrets.compare_digest(given, self._secret):
            return JSONResponse({"error": "wrong secret token"}, status_code=401)
        try:
            update = Update.model_validate(await read_json(request, MAX_BODY), context={"bot": self._bot})
        except BodyTooLarge as exc:
            return JSONResponse({"error": str(exc)}, status_code=413)
        except (BadBody, ValidationError) as exc:
            return JSONResponse({"error": "malformed update", "detail": str(exc)[:300]}, status_code=400)
        # Handled before answering: a failure answers 500 and Telegram delivers the update again.
        await self._dispatcher.feed_update(self._bot, update)
        return Response(status_code=200)
