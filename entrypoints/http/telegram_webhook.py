"""``POST /webhooks/telegram``: updates pushed by Telegram, checked by their secret token."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
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
        result = await self._dispatcher.feed_update(self._bot, update)
        if isinstance(result, TelegramMethod):
            answer = webhook_reply(self._bot, result)
            if answer is not None:
                return JSONResponse(answer)
            await self._bot(result)  # cannot go back inline (a file to upload): call it ourselves
        return Response(status_code=200)


def webhook_reply(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any] | None:
    """``method`` as the body of a webhook reply, which Telegram executes on receiving it (as a
    JSON object: ``{"method": "sendMessage", "chat_id": ..., ...}``); ``None`` when it carries a
    file, which cannot travel that way. Nested objects (a keyboard) stay JSON objects."""
    files: dict[str, Any] = {}
    answer: dict[str, Any] = {"method": method.__api_method__}
    for key, value in method.model_dump(warnings=False, exclude_none=True).items():
        prepared = bot.session.prepare_value(value, bot=bot, files=files)
        if prepared is None:
            continue
        if isinstance(value, bool | int | float):
            answer[key] = value
        elif isinstance(value, dict | list):
            answer[key] = json.loads(prepared)
        else:
            answer[key] = prepared
    return None if files else answer
