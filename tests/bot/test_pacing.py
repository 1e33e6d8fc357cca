"""Pacing what the bot sends (``adapters.telegram.pacing``): never more than the rate in any one
second, never more than one message a second into a chat, a 429 stops everybody, waiting is a
deferral and not a failure. No test measures how long something took: each asserts on what was
let through, and when."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
from bisect import bisect_left
from datetime import timedelta

import pytest
from aiogram import Bot
from hypothesis import event, given
from hypothesis import strategies as st
from redis.asyncio import Redis

from adapters.telegram import MemoryPacer, RedisPacer, TelegramNotifier
from adapters.telegram.pacing import WINDOW_US, Cause, Reservation
from application.ports.messaging import DeliveryDeferred
from domain.ids import TelegramId
from domain.outbox import OutboxKind
from entrypoints.config import ConfigError, load_settings
from tests.bot.conftest import REDIS_URL, needs_redis
from tests.property.support import deterministic, run
from tests.standins.telegram import TelegramBotApiStandIn
from tests.unit.harness import ADMIN, Harness


class FakeMonotonic:
    """A monotonic clock the test moves by hand (seconds)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """For the notifier: a sleep that moves this clock instead of waiting."""
        self.advance(seconds)


def assert_paced(grants: list[tuple[int, int]], rate: int) -> None:
    """``grants``: (time in microseconds, chat). In every one-second window [t, t + 1 s) at most
    ``rate`` were granted in all and at most one into each chat. The window holding the most
    grants can always be slid to start at a grant, so those are the windows checked."""
    times = sorted(at for at, _ in grants)
    for start in times:
        first = bisect_left(times, start)
        in_window = bisect_left(times, start + WINDOW_US) - first
        assert in_window <= rate, f"{in_window} grants in the second from {start} us, the rate is {rate}"
    by_chat: dict[int, list[int]] = {}
    for at, chat in grants:
        by_chat.setdefault(chat, []).append(at)
    for chat, ats in by_chat.items():
        ats.sort()
        gaps = [later - earlier for earlier, later in itertools.pairwise(ats)]
        assert all(gap >= WINDOW_US for gap in gaps), f"chat {chat} got two messages within a second: {gaps}"


def test_the_window_check_itself_catches_both_kinds_of_excess() -> None:
    assert_paced([(0, 1), (999_999, 2), (1_000_000, 1)], rate=2)
    with pytest.raises(AssertionError, match="3 grants"):
        assert_paced([(0, 1), (500_000, 2), (999_999, 3)], rate=2)
    with pytest.raises(AssertionError, match="chat 1"):
        assert_paced([(0, 1), (999_999, 1)], rate=30)


# ------------------------------------------------------------------------------ MemoryPacer


@st.composite
def schedules(draw: st.DrawFn) -> list[tuple[int, int, bool]]:
    """Reserve calls: (milliseconds since the previous call, chat, whether a refused call waits
    what it was told and tries again). Bursts (0 ms) over many chats reach the rate."""
    chats = draw(st.integers(1, 40))
    step = st.tuples(
        st.one_of(st.just(0), st.integers(0, 60), st.integers(0, 1500)),
        st.integers(1, chats),
        st.booleans(),
    )
    return draw(st.lists(step, min_size=1, max_size=250))


@deterministic(200)
@given(rate=st.one_of(st.integers(1, 4), st.integers(1, 30)), schedule=schedules())
def test_memory_pacer_lets_through_at_most_the_rate_and_one_a_second_per_chat(
    rate: int, schedule: list[tuple[int, int, bool]]
) -> None:
    async def play() -> list[tuple[int, int]]:
        clock = FakeMonotonic()
        pacer = MemoryPacer(rate, clock=clock)
        grants: list[tuple[int, int]] = []
        for millis, chat, retry in schedule:
            clock.advance(millis / 1000)
            slot = await pacer.try_reserve(chat)
            if slot.granted:
                assert slot.wait == 0.0
                grants.append((slot.at, chat))
                continue
            assert slot.wait > 0 and slot.cause in (Cause.CHAT, Cause.RATE)
            event(f"refused by the {slot.cause}")
            if slot.cause is Cause.RATE:
                assert slot.wait <= 1.0
                assert await pacer.reserve(chat) == slot.wait  # refused: nothing was taken
            else:  # the chat's next free slot was promised to this caller: the next one is later
                assert await pacer.reserve(chat) >= slot.wait + 1.0 - 1e-6
            if retry:  # granted after the wait it was told
                clock.advance(slot.wait)
                again = await pacer.try_reserve(chat)
                assert again.granted, f"still refused after waiting {slot.wait} s: {again}"
                grants.append((again.at, chat))
        await pacer.close()
        return grants

    grants = run(play())
    assert grants  # the first call is always granted
    assert_paced(grants, rate)


async def test_memory_pacer_says_why_and_for_how_long() -> None:
    clock = FakeMonotonic()
    pacer = MemoryPacer(3, clock=clock)
    assert [await pacer.reserve(chat) for chat in (1, 2, 3)] == [0.0, 0.0, 0.0]
    assert await pacer.try_reserve(1) == Reservation(1.0, Cause.CHAT, 1000 * WINDOW_US)
    clock.advance(0.25)
    assert await pacer.try_reserve(4) == Reservation(0.75, Cause.RATE, 1_000_250_000)
    clock.advance(0.75)
    assert [await pacer.reserve(chat) for chat in (4, 1, 5, 6)] == [0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("seconds", [0.5, 3.0, 42.25])
async def test_memory_pacer_pause_stops_everybody_for_that_long(seconds: float) -> None:
    clock = FakeMonotonic()
    pacer = MemoryPacer(30, clock=clock)
    await pacer.pause(seconds)
    for chat in range(1, 11):
        slot = await pacer.try_reserve(chat)
        assert (slot.cause, slot.wait) == (Cause.PAUSE, seconds)
    clock.advance(seconds - 0.001)
    assert (await pacer.try_reserve(1)).cause is Cause.PAUSE
    await pacer.pause(0.0001)  # a shorter pause does not shorten the one running
    clock.advance(0.001)
    assert [await pacer.reserve(chat) for chat in range(1, 11)] == [0.0] * 10


def test_the_rate_is_1_to_30() -> None:
    for rate in (0, 31, -1):
        with pytest.raises(ValueError, match="1-30"):
            MemoryPacer(rate)
    assert load_settings().telegram_rate == 25
    assert load_settings(telegram_rate="30").telegram_rate == 30
    for bad in ("0", "31", "fast"):
        with pytest.raises(ConfigError, match=r"^AIMPAY_TELEGRAM_RATE: ") as caught:
            load_settings(telegram_rate=bad)
        assert "\n" not in str(caught.value)


async def test_without_redis_a_redis_pacer_allows_but_keeps_this_process_to_the_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1, socket_timeout=1)
    pacer = RedisPacer(nowhere, rate=2, prefix=f"aimpay-test:{secrets.token_hex(6)}")
    try:
        with caplog.at_level(logging.WARNING, logger="adapters.telegram.pacing"):
            assert await pacer.reserve(1) == 0.0  # allowed, though nobody could be asked
            assert await pacer.reserve(2) == 0.0
            refused = await pacer.try_reserve(3)  # the in-process rate still holds
            assert refused.cause is Cause.RATE and 0 < refused.wait <= 1.0
            assert (await pacer.try_reserve(1)).cause is Cause.CHAT
            await pacer.pause(5)  # held in this process even though Redis is away
            assert (await pacer.try_reserve(4)).cause is Cause.PAUSE
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "Redis failed" in warnings[0].getMessage()  # once, not per message
    finally:
        await pacer.close()


# ------------------------------------------------------------------------------ RedisPacer


async def _server_time_us(client: Redis) -> int:
    seconds, micros = await client.time()
    return seconds * 1_000_000 + micros


@pytest.mark.redis
@needs_redis
async def test_two_workers_sharing_redis_never_let_more_through_together(redis_prefix: str) -> None:
    assert REDIS_URL
    rate, chats = 5, 8  # 8 chats at one a second would be 8 a second: the rate binds, and so do the chats
    workers = [RedisPacer(Redis.from_url(REDIS_URL), rate, prefix=redis_prefix) for _ in range(2)]
    grants: list[tuple[int, int]] = []
    refused = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.5

    async def hammer(pacer: RedisPacer, seed: int) -> None:
        nonlocal refused
        pick = random.Random(seed)
        while loop.time() < deadline:
            chat = pick.randint(1, chats)
            slot = await pacer.try_reserve(chat)
            if slot.granted:
                grants.append((slot.at, chat))
            else:
                refused += 1
                assert slot.wait > 0 and slot.cause in (Cause.CHAT, Cause.RATE)
                assert slot.cause is Cause.CHAT or slot.wait <= 1.0
            await asyncio.sleep(0.001)

    try:
        await asyncio.gather(*(hammer(pacer, seed) for seed, pacer in enumerate(workers * 2)))
        client = Redis.from_url(REDIS_URL)
        try:
            ttls = [(key, await client.pttl(key)) async for key in client.scan_iter(match=f"{redis_prefix}:*")]
        finally:
            await client.aclose()
    finally:
        for pacer in workers:
            await pacer.close()
    assert refused > 0  # they did hammer
    assert len(grants) >= 2 * rate  # and it let through (about rate a second for 2.5 s)
    assert_paced(grants, rate)
    assert ttls and all(ttl > 0 for _, ttl in ttls)  # every key expires by itself
    # ... within two seconds, but for a chat's promised slots, which last as long as the promise.
    assert all(ttl <= 2000 for key, ttl in ttls if b":promised:" not in key)


@pytest.mark.redis
@needs_redis
async def test_a_pause_from_one_worker_stops_the_other(redis_prefix: str) -> None:
    assert REDIS_URL
    one, other = (RedisPacer(Redis.from_url(REDIS_URL), 30, prefix=redis_prefix) for _ in range(2))
    client = Redis.from_url(REDIS_URL)
    try:
        assert await other.reserve(1) == 0.0
        before = await _server_time_us(client)
        await one.pause(0.6)
        after = await _server_time_us(client)
        assert 0 < await client.pttl(one.key("pause")) <= 1600  # the pause key expires by itself
        for chat in (2, 3, 4):
            slot = await other.try_reserve(chat)
            assert slot.cause is Cause.PAUSE
            paused_until = slot.at + round(slot.wait * 1_000_000)
            assert before + 600_000 <= paused_until <= after + 600_000
        while not (slot := await other.try_reserve(5)).granted:
            assert slot.cause is Cause.PAUSE
            await asyncio.sleep(slot.wait)
        assert slot.at >= before + 600_000  # nobody got through before the pause was over
    finally:
        await client.aclose()
        await one.close()
        await other.close()


# -------------------------------------------------------------- TelegramNotifier on the stand-in


async def test_a_429_becomes_a_deferral_and_pauses_everybody(bot: Bot, api: TelegramBotApiStandIn) -> None:
    clock = FakeMonotonic()
    pacer = MemoryPacer(25, clock=clock)
    notifier = TelegramNotifier(bot, pacer=pacer, sleep=clock.sleep)
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(DeliveryDeferred) as caught:
        await notifier.send_message(TelegramId(10), "hello")
    assert caught.value.after == 7 and not caught.value.permanent
    assert api.messages_to(10) == []
    for chat in (10, 11):  # everybody waits out Telegram's 7 seconds
        slot = await pacer.try_reserve(chat)
        assert (slot.cause, slot.wait) == (Cause.PAUSE, 7.0)
    with pytest.raises(DeliveryDeferred) as caught:
        await notifier.send_message(TelegramId(11), "hello")
    assert caught.value.after == 7.0
    clock.advance(7)
    await notifier.send_message(TelegramId(10), "hello")
    assert [m.text for m in api.messages_to(10)] == ["hello"]


async def test_a_429_is_a_deferral_without_a_pacer_too(bot: Bot, api: TelegramBotApiStandIn) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", retry_after=2)
    with pytest.raises(DeliveryDeferred) as caught:
        await TelegramNotifier(bot).send_message(TelegramId(10), "hello")
    assert caught.value.after == 2


async def test_a_second_message_into_a_chat_is_deferred_and_other_chats_go_through(
    bot: Bot, api: TelegramBotApiStandIn
) -> None:
    clock = FakeMonotonic()
    notifier = TelegramNotifier(bot, pacer=MemoryPacer(25, clock=clock), sleep=clock.sleep)
    await notifier.send_message(TelegramId(10), "first")
    with pytest.raises(DeliveryDeferred) as caught:
        await notifier.send_message(TelegramId(10), "second")
    assert caught.value.after == 1.0 and not caught.value.permanent
    for chat in range(11, 16):
        await notifier.send_message(TelegramId(chat), f"to {chat}")
    assert [m.text for m in api.messages_to(10)] == ["first"]
    assert all([m.text for m in api.messages_to(chat)] == [f"to {chat}"] for chat in range(11, 16))
    assert clock.now == 1000.0  # nobody waited in place: other chats were not held up
    clock.advance(1)
    await notifier.send_message(TelegramId(10), "second")
    assert [m.text for m in api.messages_to(10)] == ["first", "second"]


async def test_a_short_wait_for_the_bots_budget_is_waited_out_in_place(bot: Bot, api: TelegramBotApiStandIn) -> None:
    clock = FakeMonotonic()
    notifier = TelegramNotifier(bot, pacer=MemoryPacer(2, clock=clock), sleep=clock.sleep)
    await notifier.send_message(TelegramId(1), "a")
    clock.advance(0.4)
    await notifier.send_message(TelegramId(2), "b")
    await notifier.send_message(TelegramId(3), "c")  # the budget frees 0.6 s on: waited, then sent
    assert clock.now == pytest.approx(1001.0)
    assert [m.chat_id for m in api.sent_messages] == [1, 2, 3]


async def test_a_long_wait_for_the_bots_budget_is_deferred(bot: Bot, api: TelegramBotApiStandIn) -> None:
    clock = FakeMonotonic()
    notifier = TelegramNotifier(bot, pacer=MemoryPacer(1, clock=clock), sleep=clock.sleep, max_wait_in_place=0.5)
    await notifier.send_message(TelegramId(1), "a")
    clock.advance(0.2)
    with pytest.raises(DeliveryDeferred) as caught:  # 0.8 s is more than it may wait in place
        await notifier.send_message(TelegramId(2), "b")
    assert caught.value.after == pytest.approx(0.8)
    assert clock.now == pytest.approx(1000.2) and [m.chat_id for m in api.sent_messages] == [1]


# ------------------------------------------------------------------- DeliverOutbox, end to end


async def test_a_burst_to_one_admin_goes_out_one_a_second_and_nothing_fails(
    bot: Bot, api: TelegramBotApiStandIn
) -> None:
    h = Harness()
    start = h.clock.now()
    pacer = MemoryPacer(25, clock=lambda: (h.clock.now() - start).total_seconds())
    h.notifier = TelegramNotifier(bot, pacer=pacer)  # type: ignore[assignment]
    buyers = list(range(2, 8))
    for buyer in buyers:
        await h.start(buyer)
        await h.pay(buyer)  # each sale queues a note to the one admin
    notes = len(buyers)

    await h.deliver_all()  # the links, every buyer's message and email, and one admin note
    assert all(len(api.messages_to(buyer)) == 1 for buyer in buyers)
    assert len(api.messages_to(ADMIN.value)) == 1
    for second in range(1, notes):
        waiting = [m for m in h.outbox_messages(OutboxKind.TELEGRAM_NOTICE) if m.delivered_at is None]
        assert len(waiting) == notes - second
        assert all(m.attempts == 0 and m.last_error is None and m.failed_at is None for m in waiting)
        # Put off to the admin's next free slots, one a second: one comes due each second.
        due = sorted(m.next_attempt_at for m in waiting if m.next_attempt_at is not None)
        assert due == [h.clock.now() + timedelta(seconds=1 + k) for k in range(len(waiting))]
        h.clock.advance(timedelta(milliseconds=999))
        assert await h.deliver_all() == 0  # not a second yet
        h.clock.advance(timedelta(milliseconds=1))
        assert await h.deliver_all() == 1
        assert len(api.messages_to(ADMIN.value)) == second + 1

    messages = h.outbox_messages()
    assert all(m.delivered_at is not None and m.failed_at is None for m in messages)
    assert all(m.attempts == 1 for m in messages)  # deferrals counted no attempt
    assert len(api.messages_to(ADMIN.value)) == notes


async def test_a_busy_chat_does_not_starve_the_others(bot: Bot, api: TelegramBotApiStandIn) -> None:
    """Sales keep coming while the worker, a few messages a pass, keeps putting off the admin's
    notes (one a second): the buyers' links and emails, due since they were queued, go before
    notes put off to later, so no buyer waits behind the admin's backlog."""
    h = Harness()
    start = h.clock.now()
    h.notifier = TelegramNotifier(bot, pacer=MemoryPacer(25, clock=lambda: (h.clock.now() - start).total_seconds()))  # type: ignore[assignment]
    buyers = list(range(100, 125))
    for buyer in buyers:
        await h.start(buyer)
    served_late = 0
    for buyer in buyers:  # a sale every 200 ms, one small pass of the worker after each
        await h.pay(buyer)
        h.clock.advance(timedelta(milliseconds=200))
        await h.deliver()(limit=6)
        await h.deliver()(limit=6)
        served_late += 0 if api.messages_to(buyer) else 1
    assert served_late == 0, f"{served_late} buyers waited behind the admin's notes"
    assert all(api.messages_to(buyer) for buyer in buyers[:-2])
    notes = len(api.messages_to(ADMIN.value))
    assert 0 < notes <= 5 + 1  # one a second over 5 seconds
    assert all(m.failed_at is None for m in h.outbox_messages())
