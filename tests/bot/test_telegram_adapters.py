from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot

from adapters.telegram import TelegramCourseAccess, TelegramNotifier
from application.ports.messaging import DeliveryError, LinkButton
from domain.ids import TelegramId
from tests.bot.conftest import bot_at
from tests.standins.server import refused_url
from tests.standins.telegram import TelegramBotApiStandIn

COURSE_CHAT = -1001234567890
USER = TelegramId(42)


@pytest.fixture
def course(bot: Bot) -> TelegramCourseAccess:
    return TelegramCourseAccess(bot, COURSE_CHAT)


# ------------------------------------------------------------------ TelegramNotifier


async def test_message_goes_out_as_plain_text_with_url_buttons(api: TelegramBotApiStandIn, bot: Bot) -> None:
    text = "<b>Hi</b> *there* _{name}_ https://example.com"
    buttons = (LinkButton("Pay", "https://pay.example/1"), LinkButton("Join", "https://t.me/+abc"))
    await TelegramNotifier(bot).send_message(USER, text, buttons)
    [sent] = api.sent_messages
    assert sent.chat_id == 42
    assert sent.text == text
    assert sent.parse_mode is None
    assert "parse_mode" not in sent.params
    assert sent.reply_markup == {
        "inline_keyboard": [
            [{"text": "Pay", "url": "https://pay.example/1"}],
            [{"text": "Join", "url": "https://t.me/+abc"}],
        ]
    }


async def test_message_without_buttons_has_no_keyboard(api: TelegramBotApiStandIn, bot: Bot) -> None:
    await TelegramNotifier(bot).send_message(USER, "hello")
    [sent] = api.sent_messages
    assert (sent.text, sent.reply_markup) == ("hello", None)


async def test_blocked_user_is_a_permanent_failure(api: TelegramBotApiStandIn, bot: Bot) -> None:
    api.forbid_chat(42)
    with pytest.raises(DeliveryError) as caught:
        await TelegramNotifier(bot).send_message(USER, "hello")
    assert caught.value.permanent
    assert "blocked" in str(caught.value)
    assert api.sent_messages == []


@pytest.mark.parametrize(
    ("code", "description", "retry_after"),
    [
        (429, "Too Many Requests: retry after 7", 7),
        (500, "Internal Server Error", None),
        (502, "Bad Gateway", None),
        (401, "Unauthorized", None),
    ],
)
async def test_flood_control_and_server_errors_are_transient(
    api: TelegramBotApiStandIn, bot: Bot, code: int, description: str, retry_after: int | None
) -> None:
    api.fail_next("sendMessage", code, description, retry_after=retry_after)
    with pytest.raises(DeliveryError) as caught:
        await TelegramNotifier(bot).send_message(USER, "hello")
    assert not caught.value.permanent
    await TelegramNotifier(bot).send_message(USER, "hello")  # the failure was one-off
    assert [m.text for m in api.sent_messages] == ["hello"]


async def test_a_refused_request_is_permanent(api: TelegramBotApiStandIn, bot: Bot) -> None:
    api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(DeliveryError) as caught:
        await TelegramNotifier(bot).send_message(USER, "hello")
    assert caught.value.permanent


async def test_unreachable_telegram_is_transient() -> None:
    bot = bot_at(refused_url(), "123:abc")
    try:
        with pytest.raises(DeliveryError) as caught:
            await TelegramNotifier(bot).send_message(USER, "hello")
        assert not caught.value.permanent
    finally:
        await bot.session.close()


# ------------------------------------------------------------------ TelegramCourseAccess


async def test_invite_admits_one_member_and_expires(api: TelegramBotApiStandIn, course: TelegramCourseAccess) -> None:
    expires = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    link = await course.create_invite("aimpay 1234abcd", expires)
    assert link.startswith("https://t.me/+")
    invite = api.invite_links[link]
    assert (invite.chat_id, invite.member_limit, invite.expire_date, invite.name) == (
        COURSE_CHAT,
        1,
        int(expires.timestamp()),
        "aimpay 1234abcd",
    )
    assert not invite.creates_join_request and not invite.revoked
    assert await course.create_invite("aimpay 1234abcd", expires) != link


async def test_invite_name_is_cut_to_telegram_limit(api: TelegramBotApiStandIn, course: TelegramCourseAccess) -> None:
    link = await course.create_invite("x" * 40, datetime.now(UTC) + timedelta(hours=1))
    assert api.invite_links[link].name == "x" * 32


async def test_missing_admin_rights_is_transient(api: TelegramBotApiStandIn, course: TelegramCourseAccess) -> None:
    api.fail_next("createChatInviteLink", 400, "Bad Request: not enough rights to manage chat invite links")
    with pytest.raises(DeliveryError) as caught:
        await course.create_invite("n", datetime.now(UTC) + timedelta(hours=1))
    assert not caught.value.permanent


async def test_revoke_marks_the_link_and_tolerates_an_expired_one(
    api: TelegramBotApiStandIn, course: TelegramCourseAccess
) -> None:
    link = await course.create_invite("n", datetime.now(UTC) + timedelta(hours=1))
    await course.revoke_invite(link)
    assert api.invite_links[link].revoked
    await course.revoke_invite("https://t.me/+unknownlink")  # INVITE_HASH_EXPIRED: nothing to do
    assert [c.method for c in api.calls] == ["createChatInviteLink", "revokeChatInviteLink", "revokeChatInviteLink"]


async def test_is_member_follows_the_member_status(api: TelegramBotApiStandIn, course: TelegramCourseAccess) -> None:
    api.members.add(1)
    api.banned.add(2)
    api.set_member_status(3, "administrator")
    api.set_member_status(4, "creator")
    api.set_member_status(5, "restricted", is_member=True)
    api.set_member_status(6, "restricted", is_member=False)
    answers = {uid: await course.is_member(TelegramId(uid)) for uid in range(1, 8)}
    assert answers == {1: True, 2: False, 3: True, 4: True, 5: True, 6: False, 7: False}


@pytest.mark.parametrize("description", ["Bad Request: user not found", "Bad Request: PARTICIPANT_ID_INVALID"])
async def test_unknown_user_is_not_a_member(
    api: TelegramBotApiStandIn, course: TelegramCourseAccess, description: str
) -> None:
    api.members.add(42)
    api.fail_next("getChatMember", 400, description)
    assert await course.is_member(USER) is False


async def test_wrong_course_chat_is_a_transient_failure(
    api: TelegramBotApiStandIn, course: TelegramCourseAccess
) -> None:
    api.fail_next("getChatMember", 400, "Bad Request: chat not found")
    with pytest.raises(DeliveryError) as caught:
        await course.is_member(USER)
    assert not caught.value.permanent


async def test_remove_member_is_a_ban_lifted_at_once(api: TelegramBotApiStandIn, course: TelegramCourseAccess) -> None:
    api.members.add(42)
    await course.remove_member(USER)
    assert 42 not in api.members and 42 not in api.banned
    ban, unban = api.calls
    assert (ban.method, ban.params["chat_id"], ban.params["user_id"]) == ("banChatMember", COURSE_CHAT, 42)
    assert ban.params["until_date"] > datetime.now(UTC).timestamp()  # lapses by itself if the unban is lost
    assert (unban.method, unban.params["user_id"], unban.params["only_if_banned"]) == ("unbanChatMember", 42, True)


async def test_kicking_an_admin_fails_permanently(api: TelegramBotApiStandIn, course: TelegramCourseAccess) -> None:
    api.fail_next("banChatMember", 400, "Bad Request: user is an administrator of the chat")
    with pytest.raises(DeliveryError) as caught:
        await course.remove_member(USER)
    assert caught.value.permanent
    assert api.calls_of("unbanChatMember") == []


@pytest.mark.parametrize(
    ("code", "description", "retry_after"),
    [(429, "Too Many Requests: retry after 3", 3), (500, "Internal Server Error", None)],
)
async def test_course_chat_outages_are_transient(
    api: TelegramBotApiStandIn, course: TelegramCourseAccess, code: int, description: str, retry_after: int | None
) -> None:
    api.fail_next("createChatInviteLink", code, description, retry_after=retry_after)
    with pytest.raises(DeliveryError) as caught:
        await course.create_invite("n", datetime.now(UTC) + timedelta(hours=1))
    assert not caught.value.permanent


async def test_course_access_unreachable_is_transient() -> None:
    bot = bot_at(refused_url(), "123:abc")
    try:
        with pytest.raises(DeliveryError) as caught:
            await TelegramCourseAccess(bot, COURSE_CHAT).is_member(USER)
        assert not caught.value.permanent
    finally:
        await bot.session.close()
