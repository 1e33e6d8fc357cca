"""The bot end to end: updates fed to the Dispatcher, replies read from the Bot API stand-in,
use cases over the in-memory fakes through a dishka container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from redis.asyncio import Redis

from domain.customer import Customer, Language
from domain.ids import TelegramId
from domain.purchase import PaymentStatus
from entrypoints.bot import MemoryThrottle, RedisThrottle, Verdict, make_storage
from entrypoints.bot.storage import LeanEventIsolation, LeanMemoryStorage
from tests.bot.conftest import REDIS_URL, needs_redis
from tests.bot.wiring import wired_dispatcher
from tests.standins.telegram import SentMessage, TelegramBotApiStandIn, callback_update, message_update
from tests.unit.harness import ADMIN, CATALOG, Harness

text = CATALOG.text

RU, EN = Language.RU, Language.EN
BOT_URL = "https://t.me/aimpay_test_bot"
PRICE = "4990.00"


@dataclass
class Chat:
    """Talks to the bot as Telegram users do and returns what the bot answered."""

    dp: Dispatcher
    bot: Bot
    api: TelegramBotApiStandIn

    async def send(self, user_id: int, body: str, **kwargs: Any) -> list[SentMessage]:
        return await self._feed(user_id, message_update(user_id, body, **kwargs))

    async def press(self, user_id: int, data: str, **kwargs: Any) -> list[SentMessage]:
        return await self._feed(user_id, callback_update(user_id, data, **kwargs))

    async def _feed(self, user_id: int, update: dict[str, Any]) -> list[SentMessage]:
        before = len(self.api.sent_messages)
        answer = await self.dp.feed_raw_update(self.bot, update)
        if isinstance(answer, TelegramMethod):  # returned to be sent, as polling does
            await self.bot(answer)
        return [m for m in self.api.sent_messages[before:] if m.chat_id == user_id]

    async def say(self, user_id: int, body: str, **kwargs: Any) -> str:
        """Sends ``body``; the bot's one reply."""
        [reply] = await self.send(user_id, body, **kwargs)
        return reply.text


@pytest.fixture
def h() -> Harness:
    return Harness()


@pytest.fixture
async def chat(h: Harness, bot: Bot, api: TelegramBotApiStandIn) -> AsyncIterator[Chat]:
    async with wired_dispatcher(h, bot, throttling=MemoryThrottle(1000, 60)) as dp:
        yield Chat(dp, bot, api)


async def code_of(h: Harness, telegram_id: int) -> str:
    summary = await h.summary()(TelegramId(telegram_id))
    return summary.code.value


async def customer(h: Harness, telegram_id: int) -> Customer:
    async with h.uow() as uow:
        found = await uow.customers.by_telegram_id(TelegramId(telegram_id))
    assert found is not None
    return found


def menu_data(message: SentMessage) -> list[str]:
    return message.callback_data


# ------------------------------------------------------------------ /start


async def test_start_registers_and_shows_the_menu_in_russian(chat: Chat, h: Harness) -> None:
    [reply] = await chat.send(1, "/start", first_name="Анна", username="anna")
    assert reply.text == text(RU, "welcome", name="Анна", title=h.terms.course_title, price=PRICE)
    assert menu_data(reply) == ["menu:buy", "menu:ref", "menu:help"]
    assert [b["text"] for b in reply.buttons] == [
        text(RU, "button.buy"),
        text(RU, "button.ref"),
        text(RU, "button.help"),
    ]
    assert reply.parse_mode is None
    registered = await customer(h, 1)
    assert (registered.username, registered.first_name, registered.language) == ("anna", "Анна", RU)


async def test_start_speaks_english_to_english_users(chat: Chat, h: Harness) -> None:
    [reply] = await chat.send(1, "/start", language_code="en", first_name="Ann")
    assert reply.text == text(EN, "welcome", name="Ann", title=h.terms.course_title, price=PRICE)
    assert [b["text"] for b in reply.buttons] == [
        text(EN, "button.buy"),
        text(EN, "button.ref"),
        text(EN, "button.help"),
    ]
    registered = await customer(h, 1)
    assert registered.language is EN


async def test_start_with_a_referral_code_attributes_the_newcomer(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    code = await code_of(h, 1)
    [reply] = await chat.send(2, f"/start {code}")
    assert reply.text.startswith(text(RU, "welcome", name="User", title=h.terms.course_title, price=PRICE)[:20])
    referrer, newcomer = await customer(h, 1), await customer(h, 2)
    assert newcomer.referrer_id == referrer.id


async def test_start_with_a_bad_code_still_registers(chat: Chat, h: Harness) -> None:
    [reply] = await chat.send(2, "/start <script>")
    assert reply.text == text(RU, "welcome", name="User", title=h.terms.course_title, price=PRICE)
    newcomer = await customer(h, 2)
    assert newcomer.referrer_id is None


# ------------------------------------------------------------------ /buy


async def test_buy_asks_for_an_email_until_a_good_one_then_gives_a_payment_link(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    assert await chat.say(1, "/buy") == text(RU, "ask_email")
    assert await chat.say(1, "not an email") == text(RU, "bad_email")
    assert await chat.say(1, "still@bad") == text(RU, "bad_email")
    [reply] = await chat.send(1, " Buyer@Example.COM ")
    assert reply.text == text(RU, "checkout", title=h.terms.course_title, price=PRICE, email="Buyer@example.com")
    [(payment_id, payment)] = h.gateway.payments.items()
    assert reply.url_buttons == [{"text": text(RU, "button.pay", price=PRICE), "url": payment.confirmation_url}]
    request = h.gateway.requests[payment_id]
    assert (request.return_url, request.customer_email.value) == (BOT_URL, "Buyer@example.com")
    # the conversation is over: the next text is not taken for an email
    assert await chat.say(1, "other@example.com") == text(RU, "unknown")


async def test_second_buy_reuses_the_open_payment(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    await chat.send(1, "/buy")
    [first] = await chat.send(1, "buyer@example.com")
    [second] = await chat.send(1, "/buy")  # the open payment: no second question for the email
    assert second.text == text(RU, "checkout_reused", email="buyer@example.com")
    assert second.url_buttons == first.url_buttons
    assert len(h.gateway.payments) == 1 and h.gateway.create_calls == 1


async def test_cancel_ends_the_email_question(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    await chat.send(1, "/buy")
    assert await chat.say(1, "/cancel") == text(RU, "cancelled")
    assert await chat.say(1, "buyer@example.com") == text(RU, "unknown")
    assert h.gateway.payments == {}


async def test_commands_still_work_while_an_email_is_expected(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    await chat.send(1, "/buy")
    assert await chat.say(1, "/help") == text(RU, "help", title=h.terms.course_title, percent="10%")
    [reply] = await chat.send(1, "buyer@example.com")  # still waiting for it
    assert reply.url_buttons


async def test_buy_before_start_asks_to_start(chat: Chat, h: Harness) -> None:
    assert await chat.say(1, "/buy") == text(RU, "not_registered")
    assert await chat.say(1, "buyer@example.com") == text(RU, "unknown")
    assert h.gateway.payments == {}


async def test_payment_provider_down_is_said_plainly(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    await chat.send(1, "/buy")
    h.gateway.available = False
    assert await chat.say(1, "buyer@example.com") == text(RU, "payment_unavailable")


async def test_paid_customer_in_the_chat_is_told_so(chat: Chat, h: Harness) -> None:
    await pay(chat, h, 1)
    h.course.members.add(TelegramId(1))
    assert await chat.say(1, "/buy") == text(RU, "already_in_course")  # not asked for an email
    assert len(h.gateway.payments) == 1


async def test_paid_customer_outside_the_chat_gets_a_new_link(chat: Chat, h: Harness) -> None:
    await pay(chat, h, 1)
    [reply] = await chat.send(1, "/buy")
    [link] = h.course.live_links
    assert reply.text == text(RU, "access_reissued", link=link)
    assert reply.url_buttons == [{"text": text(RU, "button.join"), "url": link}]


async def test_payment_found_paid_on_the_second_buy(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    await chat.send(1, "/buy")
    await chat.send(1, "buyer@example.com")
    h.gateway.succeed(next(iter(h.gateway.payments)))  # the webhook has not arrived yet
    assert await chat.say(1, "/buy") == text(RU, "payment_confirmed")


async def pay(chat: Chat, h: Harness, telegram_id: int, referrer_code: str | None = None) -> None:
    await chat.send(telegram_id, f"/start {referrer_code}" if referrer_code else "/start")
    await chat.send(telegram_id, "/buy")
    await chat.send(telegram_id, "buyer@example.com")
    payment_id = next(pid for pid, r in h.gateway.requests.items() if r.purchase_id not in _paid(h))
    h.gateway.succeed(payment_id)
    await h.confirm()(payment_id)


def _paid(h: Harness) -> set[object]:
    return {p.purchase_id for p in h.gateway.payments.values() if p.status is PaymentStatus.SUCCEEDED}


# ------------------------------------------------------------------ /ref, /help, buttons


async def test_ref_shows_the_link_the_counts_and_the_balance(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    code = await code_of(h, 1)
    await pay(chat, h, 2, code)
    await chat.send(3, f"/start {code}")
    reply = await chat.say(1, "/ref")
    expected = text(
        RU,
        "ref_summary",
        link=f"{BOT_URL}?start={code}",
        invited=CATALOG.plural(RU, "ref.invited", 2),
        paid=CATALOG.plural(RU, "ref.paid", 1),
        balance="499.00",
        percent="10%",
    )
    assert reply == expected
    assert "2 приглашённых" in reply and "1 оплатил" in reply


async def test_ref_before_start_asks_to_start(chat: Chat) -> None:
    assert await chat.say(1, "/ref") == text(RU, "not_registered")


async def test_help(chat: Chat, h: Harness) -> None:
    [reply] = await chat.send(1, "/help", language_code="en")
    assert reply.text == text(EN, "help", title=h.terms.course_title, percent="10%")
    assert menu_data(reply) == ["menu:buy", "menu:ref", "menu:help"]


async def test_menu_buttons_work_when_pressed(chat: Chat, h: Harness, api: TelegramBotApiStandIn) -> None:
    await chat.send(1, "/start")
    [helped] = await chat.press(1, "menu:help")
    assert helped.text == text(RU, "help", title=h.terms.course_title, percent="10%")
    [ref] = await chat.press(1, "menu:ref")
    assert ref.text.startswith(
        text(RU, "ref_summary", link="X", invited="0", paid="0", balance="0.00", percent="10%")[:20]
    )
    assert f"{BOT_URL}?start={await code_of(h, 1)}" in ref.text
    [asked] = await chat.press(1, "menu:buy")
    assert asked.text == text(RU, "ask_email")
    [paying] = await chat.send(1, "buyer@example.com")
    assert paying.url_buttons[0]["url"] == next(iter(h.gateway.payments.values())).confirmation_url
    assert len(api.answered_callbacks) == 3  # every press is acknowledged


async def test_unknown_text_and_commands(chat: Chat) -> None:
    assert await chat.say(1, "hello?") == text(RU, "unknown")
    assert await chat.say(1, "/whatever", language_code="en") == text(EN, "unknown")


async def test_group_chats_are_ignored(chat: Chat, api: TelegramBotApiStandIn) -> None:
    await chat.dp.feed_raw_update(chat.bot, message_update(1, "/start", chat_id=-100500, chat_type="supergroup"))
    await chat.dp.feed_raw_update(chat.bot, message_update(1, "hello", chat_id=-100500, chat_type="supergroup"))
    assert api.sent_messages == []


async def test_unexpected_failure_gets_a_neutral_reply(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    await chat.send(1, "/buy")

    async def broken(request: object) -> None:
        raise RuntimeError("db password is hunter2")

    h.gateway.create_payment = broken  # type: ignore[method-assign]
    reply = await chat.say(1, "buyer@example.com")
    assert reply == text(RU, "error")
    assert "hunter2" not in reply


# ------------------------------------------------------------------ admin


async def test_admin_bans_a_user_who_is_then_ignored(chat: Chat, h: Harness, api: TelegramBotApiStandIn) -> None:
    await pay(chat, h, 2)
    await h.deliver_all()
    h.course.members.add(TelegramId(2))
    assert await chat.say(ADMIN.value, "/ban 2") == text(RU, "ban.done", id=2)
    assert h.course.removed == [TelegramId(2)]
    assert await chat.send(2, "/start") == []
    assert await chat.send(2, "/help") == []
    assert await chat.press(2, "menu:buy") == []
    assert api.answered_callbacks == []
    assert await chat.say(ADMIN.value, "/ban 2") == text(RU, "ban.already", id=2)


async def test_ban_reports_a_failed_kick(chat: Chat, h: Harness) -> None:
    h.course.available = False
    reply = await chat.say(ADMIN.value, "/ban 5")
    assert reply == text(RU, "ban.kick_failed", id=5, error="fake Telegram is down")


async def test_ban_needs_a_telegram_id(chat: Chat) -> None:
    assert await chat.say(ADMIN.value, "/ban") == text(RU, "ban.usage", command="ban")
    assert await chat.say(ADMIN.value, "/ban abc") == text(RU, "ban.usage", command="ban")
    assert await chat.say(ADMIN.value, "/unban -3") == text(RU, "ban.usage", command="unban")


async def test_non_admins_have_no_ban_commands(chat: Chat, h: Harness) -> None:
    await chat.send(1, "/start")
    assert await chat.say(1, "/ban 2") == text(RU, "unknown")
    assert await chat.say(1, "/unban 2") == text(RU, "unknown")
    assert await h.may_use_bot()(TelegramId(2))  # nobody was banned


async def test_unban_lets_the_user_back(chat: Chat, h: Harness) -> None:
    await chat.send(ADMIN.value, "/ban 2")
    assert await chat.send(2, "/help") == []
    assert await chat.say(ADMIN.value, "/unban 2") == text(RU, "unban.done", id=2)
    assert await chat.say(2, "/help") == text(RU, "help", title=h.terms.course_title, percent="10%")
    assert await chat.say(ADMIN.value, "/unban 2") == text(RU, "unban.absent", id=2)


async def test_admins_are_never_blocked(chat: Chat, h: Harness) -> None:
    assert await chat.say(ADMIN.value, f"/ban {ADMIN.value}") == text(RU, "ban.admin", id=ADMIN.value)
    async with h.uow() as uow:
        assert not await uow.blacklist.contains(ADMIN)
    assert await h.may_use_bot()(ADMIN)
    assert await chat.say(ADMIN.value, "/help") == text(RU, "help", title=h.terms.course_title, percent="10%")


# ------------------------------------------------------------------ throttling


async def test_memory_throttling_warns_once_then_ignores(h: Harness, bot: Bot, api: TelegramBotApiStandIn) -> None:
    async with wired_dispatcher(h, bot, throttling=MemoryThrottle(rate=3, period=60)) as dp:
        chat = Chat(dp, bot, api)
        help_text = text(RU, "help", title=h.terms.course_title, percent="10%")
        for _ in range(3):
            assert await chat.say(1, "/help") == help_text
        assert await chat.say(1, "/help") == text(RU, "throttled")
        assert await chat.send(1, "/help") == []
        assert await chat.press(1, "menu:help") == []
        assert await chat.say(2, "/help") == help_text  # limits are per user


async def test_memory_throttle_opens_a_new_window_after_the_period() -> None:
    now = [100.0]
    throttle = MemoryThrottle(rate=2, period=10, clock=lambda: now[0])
    assert [await throttle.hit(1) for _ in range(4)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN, Verdict.DROP]
    now[0] += 9.9
    assert await throttle.hit(1) is Verdict.DROP
    now[0] += 0.1
    assert [await throttle.hit(1) for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN]


async def test_throttled_button_press_is_warned_in_the_callback_answer(
    h: Harness, bot: Bot, api: TelegramBotApiStandIn
) -> None:
    async with wired_dispatcher(h, bot, throttling=MemoryThrottle(rate=1, period=60)) as dp:
        chat = Chat(dp, bot, api)
        await chat.send(1, "/help")
        assert await chat.press(1, "menu:help") == []
        [answer] = api.answered_callbacks
        assert answer["text"] == text(RU, "throttled")


def test_throttle_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        MemoryThrottle(rate=0, period=1)
    with pytest.raises(ValueError):
        MemoryThrottle(rate=1, period=0)


# ------------------------------------------------------------------ Redis (shared by bot instances)


@pytest.mark.redis
@needs_redis
async def test_redis_throttling_is_shared_by_bot_instances(
    h: Harness, bot: Bot, api: TelegramBotApiStandIn, redis_prefix: str
) -> None:
    assert REDIS_URL
    first = RedisThrottle(Redis.from_url(REDIS_URL), rate=3, period=60, prefix=redis_prefix)
    second = RedisThrottle(Redis.from_url(REDIS_URL), rate=3, period=60, prefix=redis_prefix)
    try:
        async with (
            wired_dispatcher(h, bot, throttling=first) as dp1,
            wired_dispatcher(h, bot, throttling=second) as dp2,
        ):
            one, two = Chat(dp1, bot, api), Chat(dp2, bot, api)
            help_text = text(RU, "help", title=h.terms.course_title, percent="10%")
            assert await one.say(1, "/help") == help_text
            assert await two.say(1, "/help") == help_text
            assert await one.say(1, "/help") == help_text
            assert await two.say(1, "/help") == text(RU, "throttled")
            assert await one.send(1, "/help") == []
            assert await two.send(1, "/help") == []
            assert await one.say(2, "/help") == help_text
        client = Redis.from_url(REDIS_URL)
        try:
            ttl = await client.pttl(first.key(1))
        finally:
            await client.aclose()
        assert 0 < ttl <= 60_000  # the window expires by itself
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
@needs_redis
async def test_redis_fsm_storage_carries_the_conversation_across_instances(
    h: Harness, bot: Bot, api: TelegramBotApiStandIn, redis_prefix: str
) -> None:
    assert REDIS_URL
    throttle = MemoryThrottle(1000, 60)
    async with (
        wired_dispatcher(h, bot, storage=make_storage(REDIS_URL, prefix=redis_prefix), throttling=throttle) as dp1,
        wired_dispatcher(h, bot, storage=make_storage(REDIS_URL, prefix=redis_prefix), throttling=throttle) as dp2,
    ):
        one, two = Chat(dp1, bot, api), Chat(dp2, bot, api)
        await one.send(1, "/start")
        assert await one.say(1, "/buy") == text(RU, "ask_email")
        client = Redis.from_url(REDIS_URL)
        try:
            assert [k async for k in client.scan_iter(match=f"{redis_prefix}:*")]  # the state lives in Redis
        finally:
            await client.aclose()
        [reply] = await two.send(1, "buyer@example.com")  # answered through the other instance
        assert reply.text == text(RU, "checkout", title=h.terms.course_title, price=PRICE, email="buyer@example.com")
        assert await one.say(1, "buyer@example.com") == text(RU, "unknown")  # the state is cleared for both


# ------------------------------------------------------------------ memory that does not grow


async def test_the_bot_keeps_no_state_for_users_who_are_not_in_a_conversation(chat: Chat) -> None:
    storage, isolation = chat.dp.storage, chat.dp.fsm.events_isolation
    assert isinstance(storage, LeanMemoryStorage) and isinstance(isolation, LeanEventIsolation)
    for user in range(500, 560):
        await chat.send(user, "/start")
        await chat.send(user, "/help")
    assert storage.conversations() == 0 and isolation.held() == 0  # sixty users came and went: nothing kept
    await chat.send(1, "/start")
    await chat.send(1, "/buy")  # asked for an email: in a conversation now
    assert storage.conversations() == 1
    await chat.send(1, "/cancel")
    assert storage.conversations() == 0
