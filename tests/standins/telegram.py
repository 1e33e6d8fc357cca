"""A loopback stand-in of the Telegram Bot API, written from https://core.telegram.org/bots/api.

Serve ``TelegramBotApiStandIn(...).app`` with ``tests.standins.server.serve_asgi`` and point the
real aiogram client at it::

    api = TelegramBotApiStandIn(username="aimpay_test_bot")
    async with serve_asgi(api.app) as base_url:
        bot = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))

Requests are ``POST``/``GET /bot{token}/{method}`` with a JSON body, a form body (what aiogram
sends: strings as they are, everything else JSON-encoded) or query parameters; answers are
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``.

It keeps one bot, its private chats and one group chat (any negative ``chat_id``) whose members the
test controls through ``members`` (plain members), ``banned`` and ``set_member_status`` (any
other ChatMember status). It records what the bot did (``calls``, ``sent_messages``, ``invite_links``, ``webhook``,
...), fails on demand (``fail_next``, ``forbid_chat``) and feeds updates to ``getUpdates`` long
polling (``push_update``) or to the bot's webhook (``post_to_webhook``). ``wait_for`` awaits a
condition on the recorded state instead of sleeping.

Methods: getMe, sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage,
answerCallbackQuery, setMyCommands, getMyCommands, deleteMyCommands, createChatInviteLink,
revokeChatInviteLink, getChatMember, banChatMember, unbanChatMember, setWebhook,
deleteWebhook, getWebhookInfo, getUpdates, close, logOut. Anything else is 404 "Not Found".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

JsonDict = dict[str, Any]

# Parameters whose value is a plain string in a form body (everything else is JSON-encoded).
_STRING_PARAMS = frozenset(
    {
        "text",
        "name",
        "url",
        "secret_token",
        "invite_link",
        "callback_query_id",
        "parse_mode",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "inline_message_id",
        "language_code",
        "scope_type",
    }
)

_ADMIN_RIGHTS = (
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
)
_RESTRICTED_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)


class BotApiError(Exception):
    """Answered as ``{"ok": false, ...}`` with ``error_code`` as the HTTP status."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


@dataclass
class Call:
    method: str
    params: JsonDict


@dataclass
class SentMessage:
    message_id: int
    chat_id: int | str
    text: str
    reply_markup: JsonDict | None
    parse_mode: str | None
    params: JsonDict
    deleted: bool = False

    @property
    def buttons(self) -> list[JsonDict]:
        """Every button of the message's keyboard (inline or reply), row by row."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or self.reply_markup.get("keyboard") or []
        return [button if isinstance(button, dict) else {"text": button} for row in rows for button in row]

    @property
    def url_buttons(self) -> list[JsonDict]:
        return [b for b in self.buttons if "url" in b]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


@dataclass
class InviteLink:
    invite_link: str
    chat_id: int | str
    name: str | None
    expire_date: int | None
    member_limit: int | None
    creates_join_request: bool
    revoked: bool = False


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    drop_pending_updates: bool = False
    max_connections: int | None = None


@dataclass
class _Failure:
    error_code: int
    description: str
    times: int
    retry_after: int | None


# Ids for updates fed to a Dispatcher directly; the stand-in numbers the updates it queues itself.
_incoming_update_ids = itertools.count(1)
_incoming_message_ids = itertools.count(1)


def _user(
    user_id: int, first_name: str, username: str | None, language_code: str | None, is_bot: bool = False
) -> JsonDict:
    user: JsonDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def message_update(
    user_id: int,
    text: str,
    *,
    language_code: str | None = "ru",
    username: str | None = None,
    first_name: str = "User",
    chat_id: int | None = None,
    chat_type: str = "private",
    message_id: int | None = None,
    update_id: int | None = None,
) -> JsonDict:
    """An update with a text message from ``user_id`` (in their private chat unless ``chat_id``).
    Commands get a ``bot_command`` entity, as Telegram sends them."""
    chat_id = user_id if chat_id is None else chat_id
    chat: JsonDict = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = first_name
    else:
        chat["title"] = "Group"
    message: JsonDict = {
        "message_id": message_id if message_id is not None else next(_incoming_message_ids),
        "date": int(time.time()),
        "chat": chat,
        "from": _user(user_id, first_name, username, language_code),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id if update_id is not None else next(_incoming_update_ids), "message": message}


def callback_update(
    user_id: int,
    data: str,
    *,
    language_code: str | None = "ru",
    username: str | None = None,
    first_name: str = "User",
    message_id: int = 1,
    message_text: str = "menu",
    bot_id: int = 1,
    update_id: int | None = None,
) -> JsonDict:
    """An update with a press of an inline button carrying ``data`` under a bot's message in the
    user's private chat."""
    return {
        "update_id": update_id if update_id is not None else next(_incoming_update_ids),
        "callback_query": {
            "id": secrets.token_hex(8),
            "from": _user(user_id, first_name, username, language_code),
            "chat_instance": str(user_id),
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": first_name},
                "from": _user(bot_id, "Bot", None, None, is_bot=True),
                "text": message_text,
            },
        },
    }


class TelegramBotApiStandIn:
    """One bot's Bot API, in memory. See the module docstring."""

    def __init__(
        self,
        token: str = "123456789:AAstand-in-token_for-tests-only000000",
        username: str = "aimpay_test_bot",
        first_name: str = "Aimpay Test",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.first_name = first_name
        # State the test controls.
        self.members: set[int] = set()  # plain members of the group chat
        self.member_status: dict[int, JsonDict] = {}  # user id -> a full ChatMember object
        self.banned: set[int] = set()
        self.forbidden_chats: set[int | str] = set()
        # What the bot did.
        self.calls: list[Call] = []
        self.webhook_replies: list[Call] = []  # calls made by answering a webhook request inline
        self.sent_messages: list[SentMessage] = []
        self.invite_links: dict[str, InviteLink] = {}
        self.answered_callbacks: list[JsonDict] = []
        self.commands: dict[str, list[JsonDict]] = {}  # scope/language key -> commands
        self.webhook = Webhook()
        self._updates: list[JsonDict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._failures: dict[str, list[_Failure]] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._handlers: dict[str, Callable[[JsonDict], Awaitable[Any]]] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "createchatinvitelink": self._create_chat_invite_link,
            "revokechatinvitelink": self._revoke_chat_invite_link,
            "getchatmember": self._get_chat_member,
            "banchatmember": self._ban_chat_member,
            "unbanchatmember": self._unban_chat_member,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "close": self._true,
            "logout": self._true,
        }
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])

    # ----------------------------------------------------------------- controls for the test

    def fail_next(
        self, method: str, error_code: int, description: str, times: int = 1, retry_after: int | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` fail with this error (``retry_after`` adds
        ``parameters.retry_after``, as a 429 from Telegram does)."""
        self._failures.setdefault(method.lower(), []).append(_Failure(error_code, description, times, retry_after))

    def set_member_status(self, user_id: int, status: str, **fields: Any) -> None:
        """Makes ``user_id`` a group-chat member with ``status`` ("creator", "administrator",
        "member", "restricted", "left", "kicked"); rights not given in ``fields`` are false."""
        member: JsonDict = {"status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(dict.fromkeys(_ADMIN_RIGHTS, False))
        elif status == "restricted":
            member.update(dict.fromkeys(_RESTRICTED_RIGHTS, False), is_member=True, until_date=0)
        elif status == "kicked":
            member["until_date"] = 0
        member.update(fields)
        self.member_status[user_id] = member

    def forbid_chat(self, chat_id: int | str) -> None:
        """Sending to ``chat_id`` fails with 403 "Forbidden: bot was blocked by the user"."""
        self.forbidden_chats.add(chat_id)

    def push_update(self, update: JsonDict) -> int:
        """Queues an update for ``getUpdates`` under the stand-in's next ``update_id`` (like
        Telegram, the stand-in numbers updates itself) and returns that id."""
        update = {**update, "update_id": next(self._update_ids)}
        self._updates.append(update)
        self._notify()
        return int(update["update_id"])

    async def post_to_webhook(self, update: JsonDict, secret_token: str | None = None) -> httpx.Response:
        """Delivers ``update`` to the webhook set by ``setWebhook``, as Telegram does, with the
        ``X-Telegram-Bot-Api-Secret-Token`` header (the recorded one unless ``secret_token``)."""
        if not self.webhook.url:
            raise RuntimeError("no webhook is set")
        update = {**update, "update_id": next(self._update_ids)}
        token = secret_token if secret_token is not None else self.webhook.secret_token
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(self.webhook.url, json=update, headers=headers)
        await self.execute_webhook_reply(response)
        return response

    async def execute_webhook_reply(self, response: httpx.Response) -> None:
        """What Telegram does with a webhook's answer: a JSON body naming a ``method`` is a Bot API
        call made on the bot's behalf (recorded in ``webhook_replies`` as well as ``calls``). Its
        outcome is not reported to anybody, as with Telegram."""
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/json"):
            return
        body = response.json()
        if not isinstance(body, dict) or "method" not in body:
            return
        method = str(body.pop("method"))
        params = {k: _decode_form_value(k, v) if isinstance(v, str) else v for k, v in body.items()}
        call = Call(method, params)
        self.calls.append(call)
        self.webhook_replies.append(call)
        handler = self._handlers.get(method.lower())
        try:
            if handler is None:
                raise BotApiError(404, "Not Found")
            await handler(params)
        except BotApiError:
            pass  # Telegram drops a failed webhook reply silently
        finally:
            self._notify()

    def messages_to(self, chat_id: int | str) -> list[SentMessage]:
        return [m for m in self.sent_messages if m.chat_id == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Returns once ``condition()`` holds (checked after every request); ``TimeoutError`` if it
        does not within ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            await self._wait_until(condition)

    def shutdown(self) -> None:
        """Ends every waiting ``getUpdates`` at once (call before stopping the server)."""
        self._closing = True
        self._notify()

    # ----------------------------------------------------------------- HTTP

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        try:
            params = await _read_params(request)
        except ValueError as exc:
            return _error(400, f"Bad Request: {exc}")
        self.calls.append(Call(method, params))
        try:
            self._maybe_fail(method)
            if method.lower() == "getupdates":
                result: Any = await self._get_updates(params, request)
            else:
                handler = self._handlers.get(method.lower())
                if handler is None:
                    raise BotApiError(404, "Not Found")
                result = await handler(params)
        except BotApiError as exc:
            return _error(exc.error_code, exc.description, exc.retry_after)
        finally:
            self._notify()
        return JSONResponse({"ok": True, "result": result})

    def _maybe_fail(self, method: str) -> None:
        queue = self._failures.get(method.lower())
        if not queue:
            return
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        raise BotApiError(failure.error_code, failure.description, failure.retry_after)

    def _notify(self) -> None:
        """Wakes everything waiting on the stand-in's state (``wait_for``, long polls)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _wait_until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._changed.wait()

    # ----------------------------------------------------------------- objects

    def _bot_user(self) -> JsonDict:
        return _user(self.bot_id, self.first_name, self.username, None, is_bot=True)

    def _chat(self, chat_id: int | str) -> JsonDict:
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "User"}
        return {"id": chat_id if isinstance(chat_id, int) else -1000000000001, "type": "supergroup", "title": "Course"}

    def _message(self, sent: SentMessage) -> JsonDict:
        message: JsonDict = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": self._chat(sent.chat_id),
            "from": self._bot_user(),
            "text": sent.text,
        }
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        return message

    def _invite(self, link: InviteLink) -> JsonDict:
        result: JsonDict = {
            "invite_link": link.invite_link,
            "creator": self._bot_user(),
            "creates_join_request": link.creates_join_request,
            "is_primary": False,
            "is_revoked": link.revoked,
        }
        for key in ("name", "expire_date", "member_limit"):
            if getattr(link, key) is not None:
                result[key] = getattr(link, key)
        return result

    def _member(self, user_id: int) -> JsonDict:
        user = _user(user_id, "User", None, None)
        if user_id in self.member_status:
            return {"user": user, **self.member_status[user_id]}
        if user_id in self.banned:
            return {"status": "kicked", "user": user, "until_date": 0}
        if user_id in self.members:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    # ----------------------------------------------------------------- methods

    async def _true(self, params: JsonDict) -> bool:
        return True

    async def _get_me(self, params: JsonDict) -> JsonDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _check_chat(self, chat_id: int | str) -> None:
        if chat_id in self.forbidden_chats:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")

    async def _send_message(self, params: JsonDict) -> JsonDict:
        chat_id = _required(params, "chat_id")
        text = str(_required(params, "text"))
        self._check_chat(chat_id)
        if not text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise BotApiError(400, "Bad Request: message is too long")
        sent = SentMessage(
            message_id=next(self._message_ids),
            chat_id=chat_id,
            text=text,
            reply_markup=params.get("reply_markup"),
            parse_mode=params.get("parse_mode"),
            params=params,
        )
        self.sent_messages.append(sent)
        return self._message(sent)

    def _find_message(self, params: JsonDict) -> SentMessage:
        chat_id = _required(params, "chat_id")
        message_id = _required(params, "message_id")
        for sent in self.sent_messages:
            if sent.chat_id == chat_id and sent.message_id == message_id and not sent.deleted:
                return sent
        raise BotApiError(400, "Bad Request: message to edit not found")

    async def _edit_message_text(self, params: JsonDict) -> JsonDict:
        sent = self._find_message(params)
        sent.text = str(_required(params, "text"))
        sent.reply_markup = params.get("reply_markup")
        return self._message(sent)

    async def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        sent = self._find_message(params)
        sent.reply_markup = params.get("reply_markup")
        return self._message(sent)

    async def _delete_message(self, params: JsonDict) -> bool:
        try:
            self._find_message(params).deleted = True
        except BotApiError:
            raise BotApiError(400, "Bad Request: message to delete not found") from None
        return True

    async def _answer_callback_query(self, params: JsonDict) -> bool:
        _required(params, "callback_query_id")
        self.answered_callbacks.append(params)
        return True

    @staticmethod
    def _commands_key(params: JsonDict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return f"{scope.get('type')}:{params.get('language_code') or ''}"

    async def _set_my_commands(self, params: JsonDict) -> bool:
        self.commands[self._commands_key(params)] = list(_required(params, "commands"))
        return True

    async def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JsonDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _create_chat_invite_link(self, params: JsonDict) -> JsonDict:
        chat_id = _required(params, "chat_id")
        member_limit = params.get("member_limit")
        creates_join_request = bool(params.get("creates_join_request"))
        if member_limit is not None and not 1 <= int(member_limit) <= 99999:
            raise BotApiError(400, "Bad Request: invalid member limit specified")
        if member_limit is not None and creates_join_request:
            raise BotApiError(400, "Bad Request: can't combine member limit with join requests")
        name = params.get("name")
        if name is not None and len(name) > 32:
            raise BotApiError(400, "Bad Request: invite link name is too long")
        link = InviteLink(
            invite_link=f"https://t.me/+{secrets.token_urlsafe(12)}",
            chat_id=chat_id,
            name=name,
            expire_date=int(params["expire_date"]) if params.get("expire_date") is not None else None,
            member_limit=int(member_limit) if member_limit is not None else None,
            creates_join_request=creates_join_request,
        )
        self.invite_links[link.invite_link] = link
        return self._invite(link)

    async def _revoke_chat_invite_link(self, params: JsonDict) -> JsonDict:
        _required(params, "chat_id")
        link = self.invite_links.get(str(_required(params, "invite_link")))
        if link is None:
            raise BotApiError(400, "Bad Request: INVITE_HASH_EXPIRED")
        link.revoked = True
        return self._invite(link)

    async def _get_chat_member(self, params: JsonDict) -> JsonDict:
        _required(params, "chat_id")
        return self._member(int(_required(params, "user_id")))

    async def _ban_chat_member(self, params: JsonDict) -> bool:
        _required(params, "chat_id")
        user_id = int(_required(params, "user_id"))
        self.members.discard(user_id)
        self.member_status.pop(user_id, None)
        self.banned.add(user_id)
        return True

    async def _unban_chat_member(self, params: JsonDict) -> bool:
        _required(params, "chat_id")
        user_id = int(_required(params, "user_id"))
        if not params.get("only_if_banned"):
            self.members.discard(user_id)
            self.member_status.pop(user_id, None)
        self.banned.discard(user_id)
        return True

    async def _set_webhook(self, params: JsonDict) -> bool:
        url = str(_required(params, "url"))
        if url and not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            raise BotApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not (1 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)):
            raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = Webhook(
            url=url,
            secret_token=secret,
            allowed_updates=params.get("allowed_updates"),
            drop_pending_updates=bool(params.get("drop_pending_updates")),
            max_connections=params.get("max_connections"),
        )
        if self.webhook.drop_pending_updates:
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: JsonDict) -> bool:
        self.webhook = Webhook()
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        info: JsonDict = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.allowed_updates is not None:
            info["allowed_updates"] = self.webhook.allowed_updates
        if self.webhook.max_connections is not None:
            info["max_connections"] = self.webhook.max_connections
        return info

    async def _get_updates(self, params: JsonDict, request: Request) -> list[JsonDict]:
        if self.webhook.url:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

        def ready() -> bool:
            return bool(self._updates) or self._closing

        if not ready() and timeout > 0:
            await self._long_poll(ready, timeout, request)
        return self._updates[:limit]

    async def _long_poll(self, ready: Callable[[], bool], timeout: float, request: Request) -> None:
        """Waits until ``ready()``, ``timeout`` passes or the client goes away."""

        async def until_disconnected() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        waiters = [asyncio.ensure_future(self._wait_until(ready)), asyncio.ensure_future(until_disconnected())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)


def _error(error_code: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: JsonDict = {"ok": False, "error_code": error_code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=error_code)


def _required(params: JsonDict, name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise BotApiError(400, f'Bad Request: parameter "{name}" is required')
    return value


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id given as "@channelusername"


async def _read_params(request: Request) -> JsonDict:
    params: JsonDict = {k: _decode_form_value(k, v) for k, v in request.query_params.items()}
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("the JSON body must be an object")
        params.update(decoded)
    elif content_type == "application/x-www-form-urlencoded":
        for key, value in parse_qsl(body.decode(), keep_blank_values=True):
            params[key] = _decode_form_value(key, value)
    else:
        raise ValueError(f"the stand-in does not read {content_type or 'untyped'} bodies (no file uploads)")
    return params
