"""``aimpay bot``: the long-polling process, against a stand-in Bot API, with the real adapters."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from adapters.sql import upgrade_to_head
from entrypoints.config import ConfigError, load_settings
from entrypoints.runtime import poll
from tests.standins.server import refused_url, serve_asgi
from tests.standins.telegram import TelegramBotApiStandIn, message_update


def _settings(tmp_path: Path, telegram_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'poll.db'}",
        "bot_token": TelegramBotApiStandIn().token,
        "telegram_api_url": telegram_url,
        "course_chat_id": -100500,
        "yookassa_shop_id": "123456",
        "yookassa_secret_key": "test_secret_key",
        "yookassa_api_url": refused_url() + "/v3",
        "resend_api_key": "re_test_key",
        "resend_api_url": refused_url(),
        "email_from": "Course <course@example.com>",
        "redis_url": None,
    }
    values.update(overrides)
    return load_settings(**values)


async def test_the_polling_bot_answers_and_drops_a_stale_webhook(tmp_path: Path) -> None:
    api = TelegramBotApiStandIn()
    api.webhook.url = "https://old.example.com/webhooks/telegram"  # left over from webhook mode
    async with serve_asgi(api.app) as url:
        settings = _settings(tmp_path, url)
        await upgrade_to_head(settings.database_url)
        running = asyncio.create_task(poll(settings))
        try:
            api.push_update(message_update(77, "/start", first_name="Vera"))
            await api.wait_for(lambda: bool(api.messages_to(77)), timeout=15)
            assert api.webhook.url == ""
            assert "Vera" in api.messages_to(77)[0].text
            assert api.commands  # the command menu was published
        finally:
            api.shutdown()
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running


async def test_an_unmigrated_database_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `aimpay migrate`"):
        await poll(_settings(tmp_path, refused_url()))
