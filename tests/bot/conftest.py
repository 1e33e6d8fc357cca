from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from redis.asyncio import Redis

from tests.standins.server import serve_asgi
from tests.standins.telegram import TelegramBotApiStandIn


def bot_at(base_url: str, token: str) -> Bot:
    """The real aiogram client, talking to ``base_url`` instead of api.telegram.org."""
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))


@pytest.fixture
def api() -> TelegramBotApiStandIn:
    return TelegramBotApiStandIn(username="aimpay_test_bot")


@pytest.fixture
async def api_url(api: TelegramBotApiStandIn) -> AsyncIterator[str]:
    async with serve_asgi(api.app) as base_url:
        yield base_url
        api.shutdown()


@pytest.fixture
async def bot(api: TelegramBotApiStandIn, api_url: str) -> AsyncIterator[Bot]:
    bot = bot_at(api_url, api.token)
    yield bot
    await bot.session.close()


REDIS_URL = os.environ.get("AIMPAY_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="set AIMPAY_TEST_REDIS_URL to run the Redis tests")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of its own for one test; its keys are deleted afterwards."""
    assert REDIS_URL
    prefix = f"aimpay-test:{secrets.token_hex(6)}"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
