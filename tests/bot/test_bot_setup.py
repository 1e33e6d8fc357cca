"""How the bot is assembled: fresh dispatchers, storage and rate-limit helpers, the command menu."""

from __future__ import annotations

from aiogram import Bot
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import TelegramMethod
from dishka import make_async_container
from dishka.integrations.aiogram import setup_dishka
from redis.asyncio import Redis

from domain.customer import Language
from entrypoints.bot import (
    MemoryThrottle,
    RedisThrottle,
    Verdict,
    build_dispatcher,
    make_storage,
    make_throttling,
    set_bot_commands,
)
from entrypoints.bot.storage import LeanMemoryStorage
from tests.bot.wiring import HarnessProvider
from tests.standins.server import refused_url
from tests.standins.telegram import TelegramBotApiStandIn, message_update
from tests.unit.harness import CATALOG, Harness

text = CATALOG.text


async def test_each_dispatcher_gets_its_own_routers_and_explicit_inject_suffices(
    bot: Bot, api: TelegramBotApiStandIn
) -> None:
    h = Harness()
    build_dispatcher()  # a first one must not keep the routers to itself
    dp = build_dispatcher()
    container = make_async_container(HarnessProvider(h))
    setup_dishka(container, router=dp)  # no auto_inject, no startup: the handlers carry @inject
    try:
        answer = await dp.feed_raw_update(bot, message_update(1, "/help"))
        assert isinstance(answer, TelegramMethod)  # returned, for the webhook reply (or polling) to send
        await bot(answer)
    finally:
        await container.close()
    [reply] = api.messages_to(1)
    assert reply.text == text(Language.RU, "help", title=h.terms.course_title, percent="10%")


async def test_redis_throttle_lets_updates_through_when_redis_is_down() -> None:
    throttle = RedisThrottle(Redis.from_url(refused_url().replace("http://", "redis://")), rate=1, period=60)
    try:
        assert [await throttle.hit(1) for _ in range(3)] == [Verdict.ALLOW] * 3
    finally:
        await throttle.close()


async def test_helpers_pick_memory_or_redis() -> None:
    assert isinstance(make_throttling(None, 5, 10), MemoryThrottle)
    assert isinstance(make_storage(None), LeanMemoryStorage)
    throttle = make_throttling("redis://127.0.0.1:1/0", 5, 10)
    storage = make_storage("redis://127.0.0.1:1/0")
    try:
        assert isinstance(throttle, RedisThrottle) and (throttle.rate, throttle.period) == (5, 10)
        assert isinstance(storage, RedisStorage) and storage.state_ttl is not None
    finally:
        await throttle.close()
        await storage.close()


async def test_command_menu_is_published_in_both_languages(bot: Bot, api: TelegramBotApiStandIn) -> None:
    await set_bot_commands(bot, CATALOG)
    assert [c["command"] for c in api.commands["all_private_chats:"]] == ["start", "buy", "ref", "help", "cancel"]
    assert api.commands["all_private_chats:en"][1] == {"command": "buy", "description": "Buy the course"}
