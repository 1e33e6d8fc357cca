"""Joins of the course chat, as ``chat_member`` updates fed to the Dispatcher: the real Bot talks to
the Bot API stand-in, so the link's revocation and a stranger's kick are seen on the wire."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update

from adapters.telegram import TelegramCourseAccess
from domain.access import AccessGrant
from domain.ids import TelegramId
from entrypoints.bot import MemoryThrottle, build_dispatcher
from tests.bot.wiring import COURSE_CHAT_ID, wired_dispatcher
from tests.standins.telegram import TelegramBotApiStandIn
from tests.unit.harness import ADMIN, Harness

BUYER, STRANGER = 1, 3
_update_ids = itertools.count(10_000)


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}


def chat_member_update(
    user_id: int,
    invite_link: str | None,
    *,
    chat_id: int = COURSE_CHAT_ID,
    old_status: str = "left",
    new_status: str = "member",
    bot_id: int = 123456789,
) -> dict[str, Any]:
    """What Telegram sends when ``user_id`` changes status in a group (a join by default)."""
    update: dict[str, Any] = {
        "chat": {"id": chat_id, "type": "supergroup", "title": "Course"},
        "from": _user(user_id),
        "date": int(time.time()),
        "old_chat_member": {"status": old_status, "user": _user(user_id)},
        "new_chat_member": {"status": new_status, "user": _user(user_id)},
    }
    if new_status == "kicked":
        update["new_chat_member"]["until_date"] = 0
    if invite_link is not None:
        update["invite_link"] = {
            "invite_link": invite_link,
            "creator": {"id": bot_id, "is_bot": True, "first_name": "Bot"},
            "creates_join_request": False,
            "is_primary": False,
            "is_revoked": False,
            "member_limit": 1,
        }
    return {"update_id": next(_update_ids), "chat_member": update}


@pytest.fixture
def h(bot: Bot) -> Harness:
    """The use cases over the fakes, except the course chat: the real adapter on the stand-in."""
    return Harness(course=TelegramCourseAccess(bot, COURSE_CHAT_ID))  # type: ignore[arg-type]


@pytest.fixture
async def dp(h: Harness, bot: Bot) -> AsyncIterator[Dispatcher]:
    async with wired_dispatcher(h, bot, throttling=MemoryThrottle(1, 60)) as dispatcher:
        yield dispatcher


async def feed(dp: Dispatcher, bot: Bot, raw: dict[str, Any]) -> None:
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))


async def paid_with_link(h: Harness, telegram_id: int) -> AccessGrant:
    await h.start(telegram_id)
    purchase = await h.pay(telegram_id)
    await h.deliver_all()  # creates the invite link at the stand-in
    [grant] = [g for g in h.store.state.grants.values() if g.purchase_id == purchase.id]
    return grant


def kicked(api: TelegramBotApiStandIn) -> list[tuple[str, int]]:
    return [(c.method, int(c.params["user_id"])) for c in api.calls if c.method in ("banChatMember", "unbanChatMember")]


def test_the_dispatcher_asks_telegram_for_chat_member_updates() -> None:
    assert "chat_member" in build_dispatcher().resolve_used_update_types()


async def test_the_owner_joining_revokes_the_link(
    dp: Dispatcher, bot: Bot, api: TelegramBotApiStandIn, h: Harness
) -> None:
    grant = await paid_with_link(h, BUYER)
    assert not api.invite_links[grant.invite_link].revoked

    await feed(dp, bot, chat_member_update(BUYER, grant.invite_link))

    assert [c.params["invite_link"] for c in api.calls_of("revokeChatInviteLink")] == [grant.invite_link]
    assert api.invite_links[grant.invite_link].revoked
    assert h.store.state.grants[grant.id].is_revoked
    assert kicked(api) == []


async def test_a_stranger_is_kicked_and_the_admins_are_told(
    dp: Dispatcher, bot: Bot, api: TelegramBotApiStandIn, h: Harness
) -> None:
    grant = await paid_with_link(h, BUYER)
    api.members.add(STRANGER)

    await feed(dp, bot, chat_member_update(STRANGER, grant.invite_link))

    assert api.invite_links[grant.invite_link].revoked
    assert kicked(api) == [("banChatMember", STRANGER), ("unbanChatMember", STRANGER)]
    assert STRANGER not in api.members and STRANGER not in api.banned
    assert [m.key for m in h.outbox_messages() if ":intruder:" in m.key] == [
        f"grant:{grant.id}:intruder:{STRANGER}:admin:{ADMIN}"
    ]


async def test_a_redelivered_join_is_not_throttled_and_alerts_once(
    dp: Dispatcher, bot: Bot, api: TelegramBotApiStandIn, h: Harness
) -> None:
    grant = await paid_with_link(h, BUYER)
    update = chat_member_update(STRANGER, grant.invite_link)
    for _ in range(2):  # the dispatcher's throttle lets one private update a minute through
        await feed(dp, bot, update)
    assert len(api.calls_of("revokeChatInviteLink")) == 2  # both reached the use case
    assert len([m for m in h.outbox_messages() if ":intruder:" in m.key]) == 1


async def test_a_blacklisted_stranger_is_still_kicked(
    dp: Dispatcher, bot: Bot, api: TelegramBotApiStandIn, h: Harness
) -> None:
    grant = await paid_with_link(h, BUYER)
    h.store.state.blacklist[TelegramId(STRANGER)] = h.clock.now()
    await feed(dp, bot, chat_member_update(STRANGER, grant.invite_link))
    assert kicked(api) == [("banChatMember", STRANGER), ("unbanChatMember", STRANGER)]


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"chat_id": -1009999999999}, id="a join of another chat"),
        pytest.param({"old_status": "member", "new_status": "left"}, id="a leave"),
        pytest.param({"old_status": "member", "new_status": "kicked"}, id="a kick"),
    ],
)
async def test_other_chats_and_other_transitions_are_ignored(
    kwargs: dict[str, Any], dp: Dispatcher, bot: Bot, api: TelegramBotApiStandIn, h: Harness
) -> None:
    grant = await paid_with_link(h, BUYER)
    before = len(api.calls)

    await feed(dp, bot, chat_member_update(STRANGER, grant.invite_link, **kwargs))

    assert api.calls[before:] == []
    assert not h.store.state.grants[grant.id].is_revoked
    assert not api.invite_links[grant.invite_link].revoked


async def test_a_join_without_our_link_is_left_alone(
    dp: Dispatcher, bot: Bot, api: TelegramBotApiStandIn, h: Harness
) -> None:
    grant = await paid_with_link(h, BUYER)
    before = len(api.calls)
    await feed(dp, bot, chat_member_update(STRANGER, None))  # added by an admin
    await feed(dp, bot, chat_member_update(STRANGER, "https://t.me/+not-ours"))
    assert api.calls[before:] == []
    assert not h.store.state.grants[grant.id].is_revoked
