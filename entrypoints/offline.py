"""The offline harness: the whole platform with YooKassa, Resend and Telegram faked in memory.

Used by ``aimpay demo`` and by tests that want the real wiring without the outside world. The
fakes stand only where a real service would: SQLite, migrations, use cases, the bot's handlers
and the HTTP app are the production ones.

``RecordingBotSession`` is the Bot API: a real aiogram ``Bot`` talks to it as it would to
Telegram, and it keeps what the bot did as the chats a Telegram client would show (messages,
their later edits, deletions, documents and photos with their bytes, the toasts of
``answerCallbackQuery``, reply keyboards) plus every call as it went over the wire. A method it
knows nothing special about is still recorded (and answered as well as its return type allows),
so whatever the bot learns to do later shows up without changing the harness."""

from __future__ import annotations

import html
import itertools
import json
import mimetypes
import struct
import time
import types
import typing
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import ChatInviteLink, InputFile, Message, MessageId, URLInputFile, User
from dishka import Provider, Scope, provide
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.fakes.gateways import FakePaymentGateway
from domain.purchase import PaymentStatus

DEMO_BOT_USERNAME = "aimpay_demo_bot"
DEMO_BOT_TOKEN = "123456789:" + "D" * 35
MAX_CALLS = 1000  # the API calls kept for display (the chats keep everything)

# The parameters that carry a message's file, by method; sendMediaGroup carries a list of them.
MEDIA_FIELDS = ("document", "photo", "audio", "video", "voice", "animation", "sticker", "video_note")


@dataclass(frozen=True)
class BotReply:
    chat_id: int
    text: str
    buttons: tuple[tuple[str, str], ...]  # (text, url or callback data)


@dataclass(frozen=True)
class StoredFile:
    """A file the bot uploaded, kept in memory so the playground can offer it for download."""

    file_id: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class ChatEntry:
    """One bubble of a chat as a Telegram client shows it. ``sender`` is ``bot``, ``user`` (what
    the person typed) or ``service`` (a line such as "you joined the course chat"). ``method`` is
    the Bot API method that made it; ``params`` what the bot sent (files as their names), for the
    methods nothing here knows how to draw. ``version`` changes whenever the entry does."""

    chat_id: int
    message_id: int
    sender: str
    method: str
    date: int
    order: int
    version: int
    text: str | None = None
    reply_markup: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    edited: bool = False
    deleted: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "sender": self.sender,
            "method": self.method,
            "date": self.date,
            "version": self.version,
            "text": self.text,
            "reply_markup": self.reply_markup,
            "files": self.files,
            "params": {} if self.method == "sendMessage" else self.params,  # a text message is its text
            "edited": self.edited,
        }


@dataclass(frozen=True)
class ApiCall:
    seq: int
    method: str
    chat_id: int | None
    params: dict[str, Any]
    ok: bool
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "method": self.method,
            "chat_id": self.chat_id,
            "params": self.params,
            "ok": self.ok,
            "error": self.error,
        }


@dataclass(frozen=True)
class Toast:
    seq: int
    callback_query_id: str
    text: str
    show_alert: bool


class _Refused(Exception):
    """Telegram would answer this call with an error (``status``, ``description``)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 0, 0


def _kinds(returning: Any) -> tuple[Any, ...]:
    if typing.get_origin(returning) in (typing.Union, types.UnionType):
        return typing.get_args(returning)
    return (returning,)


def _replaced(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {k: _replaced(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, mapping) for v in value]
    return value


def _chat_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # an @channel name


class RecordingBotSession(BaseSession):
    """A Bot API that answers locally and records what the bot did, in place of Telegram."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: list[BotReply] = []  # every sendMessage, in order
        self.calls: list[ApiCall] = []  # every call (the last MAX_CALLS)
        self.chats: dict[int, list[ChatEntry]] = {}
        self.files: dict[str, StoredFile] = {}
        self.toasts: list[Toast] = []
        self.reply_keyboards: dict[int, dict[str, Any]] = {}  # chat id -> the keyboard it shows
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._seq = itertools.count(1)

    async def close(self) -> None:
        return None

    # --- what the playground reads and adds ------------------------------------------------------

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def tick(self) -> int:
        return next(self._seq)

    def messages(self, chat_id: int) -> list[ChatEntry]:
        return [e for e in self.chats.get(chat_id, ()) if not e.deleted]

    def find(self, chat_id: int, message_id: int) -> ChatEntry | None:
        return next((e for e in self.chats.get(chat_id, ()) if e.message_id == message_id and not e.deleted), None)

    def add_entry(self, chat_id: int, sender: str, method: str, text: str | None, **values: Any) -> ChatEntry:
        seq = self.tick()
        message_id = values.pop("message_id", None) or self.next_message_id()
        entry = ChatEntry(chat_id, message_id, sender, method, int(time.time()), seq, seq, text, **values)
        self.chats.setdefault(chat_id, []).append(entry)
        markup = entry.reply_markup or {}
        if "keyboard" in markup:
            self.reply_keyboards[chat_id] = markup
        elif markup.get("remove_keyboard"):
            self.reply_keyboards.pop(chat_id, None)
        return entry

    # --- the Bot API -----------------------------------------------------------------------------

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        name = method.__api_method__
        attached: dict[str, InputFile] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=attached, _dumps_json=False)
            if prepared is not None:
                params[key] = prepared
        # A URL file is not fetched (nothing leaves the machine): it stays a reference, like a file id.
        links = {f"attach://{k}": f.url for k, f in attached.items() if isinstance(f, URLInputFile)}
        if links:
            params = _replaced(params, links)
        uploads = {
            f"attach://{key}": await self._store(bot, upload)
            for key, upload in attached.items()
            if not isinstance(upload, URLInputFile)
        }
        shown = self._shown(params, uploads)
        chat_id = _chat_id(params.get("chat_id"))
        try:
            result = self._perform(bot, method, name, params, uploads, shown, chat_id)
        except _Refused as refused:
            self._log(name, chat_id, shown, ok=False, error=refused.description)
            body = {"ok": False, "error_code": refused.status, "description": refused.description}
            self.check_response(bot, method, refused.status, json.dumps(body))
            raise AssertionError("unreachable: check_response raises for an error") from None
        self._log(name, chat_id, shown, ok=True)
        response = self.check_response(bot, method, 200, json.dumps({"ok": True, "result": result}))
        return response.result  # type: ignore[return-value]

    def _log(
        self, name: str, chat_id: int | None, shown: dict[str, Any], *, ok: bool, error: str | None = None
    ) -> None:
        self.calls.append(ApiCall(self.tick(), name, chat_id, shown, ok, error))
        del self.calls[:-MAX_CALLS]

    def _perform(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        name: str,
        params: dict[str, Any],
        uploads: dict[str, StoredFile],
        shown: dict[str, Any],
        chat_id: int | None,
    ) -> Any:
        returning = method.__returning__
        kinds = _kinds(returning)
        if name == "answerCallbackQuery":
            text = params.get("text")
            if text:
                self.toasts.append(
                    Toast(self.tick(), str(params["callback_query_id"]), str(text), bool(params.get("show_alert")))
                )
            return True
        if name.startswith("edit") and Message in kinds:
            return self._edit(bot, name, params, uploads, shown, chat_id)
        if name in ("deleteMessage", "deleteMessages"):
            for message_id in params.get("message_ids") or [params.get("message_id")]:
                entry = self.find(chat_id or 0, int(message_id))
                if entry is None:
                    raise _Refused(400, "Bad Request: message to delete not found")
                entry.deleted, entry.version = True, self.tick()
            return True
        if name == "sendMediaGroup" and chat_id is not None:
            entries = [
                self.add_entry(
                    chat_id, "bot", name, item.get("caption"), files=self._files(item, uploads), params=shown
                )
                for item in params.get("media", [])
            ]
            return [self.message_json(bot, e) for e in entries]
        if returning is Message and chat_id is not None:
            text = params.get("text", params.get("caption"))
            entry = self.add_entry(
                chat_id,
                "bot",
                name,
                None if text is None else str(text),
                reply_markup=params.get("reply_markup"),
                files=self._files(params, uploads),
                params=shown,
            )
            if name == "sendMessage":
                self.replies.append(BotReply(chat_id, str(params["text"]), self._buttons(params.get("reply_markup"))))
            return self.message_json(bot, entry)
        return self._answer(bot, returning, kinds)

    def _edit(
        self,
        bot: Bot,
        name: str,
        params: dict[str, Any],
        uploads: dict[str, StoredFile],
        shown: dict[str, Any],
        chat_id: int | None,
    ) -> Any:
        if "inline_message_id" in params:
            return True  # a message of an inline query: no chat of ours shows it
        entry = self.find(chat_id or 0, int(params.get("message_id", 0)))
        if entry is None:
            raise _Refused(400, "Bad Request: message to edit not found")
        before = (entry.text, entry.reply_markup, entry.files)
        markup = params.get("reply_markup")  # an edit without a keyboard removes it, as in Telegram
        if name == "editMessageText":
            entry.text = str(params["text"])
        elif name == "editMessageCaption":
            entry.text = params.get("caption")
        elif name == "editMessageMedia":
            media = params.get("media", {})
            entry.files = self._files(media, uploads)
            entry.text = media.get("caption")
        elif name != "editMessageReplyMarkup":
            entry.params = shown
        entry.reply_markup = markup
        if (entry.text, entry.reply_markup, entry.files) == before and name != "editMessageLiveLocation":
            raise _Refused(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message",
            )
        entry.edited, entry.version = True, self.tick()
        return self.message_json(bot, entry)

    def _answer(self, bot: Bot, returning: Any, kinds: tuple[Any, ...]) -> Any:
        """What Telegram would return for a call nothing here draws, as far as its type allows."""
        if bool in kinds:
            return True
        if returning is MessageId:
            return {"message_id": self.next_message_id()}
        if returning is User:
            return self._bot_user(bot)
        if returning is ChatInviteLink:
            number = self.tick()
            return {
                "invite_link": f"https://t.me/+demo{number:06d}",
                "creator": self._bot_user(bot),
                "creates_join_request": False,
                "is_primary": False,
                "is_revoked": False,
            }
        if returning is int:
            return 1
        if returning is str:
            return f"https://t.me/+demo{self.tick():06d}"
        if typing.get_origin(returning) is list:
            return []
        return True  # may not fit the method's type: the caller then gets a ClientDecodeError, as from a bad answer

    # --- helpers -----------------------------------------------------------------------------------

    async def _store(self, bot: Bot, upload: InputFile) -> StoredFile:
        data = b"".join([chunk async for chunk in upload.read(bot)])
        number = next(self._file_ids)
        filename = upload.filename or f"file-{number}"
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = StoredFile(f"demo-file-{number:04d}", filename, content_type, data)
        self.files[stored.file_id] = stored
        return stored

    @staticmethod
    def _shown(params: dict[str, Any], uploads: dict[str, StoredFile]) -> dict[str, Any]:
        """``params`` with every uploaded file as ``file:<name>`` (the bytes stay in ``files``)."""
        names = {key: f"file:{stored.filename}" for key, stored in uploads.items()}
        return {k: _replaced(v, names) for k, v in params.items() if k != "chat_id"}

    @staticmethod
    def _files(params: dict[str, Any], uploads: dict[str, StoredFile]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        candidates = [(key, params.get(key)) for key in MEDIA_FIELDS]
        if "media" in params and "type" in params:  # an InputMedia
            candidates.append((str(params["type"]), params["media"]))
        for kind, value in candidates:
            if not isinstance(value, str):
                continue
            stored = uploads.get(value)
            if stored is None:  # a file id or a URL: nothing to download here
                found.append({"kind": kind, "ref": value})
                continue
            width, height = _png_size(stored.data)
            found.append(
                {
                    "kind": kind,
                    "file_id": stored.file_id,
                    "filename": stored.filename,
                    "content_type": stored.content_type,
                    "size": len(stored.data),
                    "width": width,
                    "height": height,
                }
            )
        return found

    @staticmethod
    def _buttons(markup: Any) -> tuple[tuple[str, str], ...]:
        buttons: list[tuple[str, str]] = []
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard") or ():
                buttons.extend((b["text"], b.get("url") or b.get("callback_data") or "") for b in row)
            for row in markup.get("keyboard") or ():
                buttons.extend((b["text"] if isinstance(b, dict) else str(b), "") for b in row)
        return tuple(buttons)

    @staticmethod
    def _bot_user(bot: Bot) -> dict[str, Any]:
        return {"id": bot.id, "is_bot": True, "first_name": "aimpay demo", "username": DEMO_BOT_USERNAME}

    def message_json(self, bot: Bot, entry: ChatEntry) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": entry.message_id,
            "date": entry.date,
            "chat": {"id": entry.chat_id, "type": "private" if entry.chat_id > 0 else "supergroup"},
            "from": self._bot_user(bot),
        }
        if entry.edited:
            message["edit_date"] = int(time.time())
        key = "caption" if entry.files else "text"
        if entry.text is not None:
            message[key] = entry.text
        if entry.reply_markup and "inline_keyboard" in entry.reply_markup:
            message["reply_markup"] = entry.reply_markup
        for item in entry.files:
            if "file_id" not in item:
                continue
            ids = {"file_id": item["file_id"], "file_unique_id": item["file_id"], "file_size": item["size"]}
            if item["kind"] == "document":
                message["document"] = {**ids, "file_name": item["filename"], "mime_type": item["content_type"]}
            elif item["kind"] == "photo":
                message["photo"] = [{**ids, "width": item["width"], "height": item["height"]}]
        return message

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        raise NotImplementedError("the demo bot downloads nothing")
        yield b""


class OfflineBotProvider(Provider):
    """A real aiogram ``Bot`` whose session is the recording one."""

    def __init__(self, session: RecordingBotSession) -> None:
        super().__init__()
        self._session = session

    @provide(scope=Scope.APP)
    def bot(self) -> Bot:
        return Bot(DEMO_BOT_TOKEN, session=self._session)


def page(title: str, body: str, *, stylesheet: str = "/playground/static/style.css", css_class: str = "") -> str:
    """A whole HTML page around ``body`` (already escaped): our stylesheet, no script."""
    icon = stylesheet.rsplit("/", 1)[0] + "/favicon.svg"
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f'<link rel="icon" href="{html.escape(icon)}" type="image/svg+xml">\n'
        f'<link rel="stylesheet" href="{html.escape(stylesheet)}">\n'
        f'</head>\n<body class="{html.escape(css_class)}">\n{body}\n</body>\n</html>\n'
    )


_OUTCOMES = {
    PaymentStatus.PENDING: "Waiting for the payment.",
    PaymentStatus.SUCCEEDED: "Paid. The shop has been notified, and the bot sends the course link to the chat.",
    PaymentStatus.CANCELED: "Cancelled. The shop has been notified, and the bot tells the buyer in the chat.",
}


def checkout_routes(
    gateway: FakePaymentGateway,
    webhook_url: str,
    *,
    back_url: str = "/",
    stylesheet: str = "/playground/static/style.css",
) -> list[Route]:
    """A stand-in for YooKassa's checkout page at ``/demo/checkout/{payment_id}`` (where the
    bot's payment button points): "Pay" moves the fake payment to ``succeeded`` and "Cancel
    payment" to ``canceled``, and each sends the notification to our own webhook, as YooKassa
    would. The page links to ``stylesheet`` (the playground's) and back to ``back_url``."""

    def render(payment_id: str, notified: str | None) -> Response:
        payment = gateway.payments.get(payment_id)
        if payment is None:
            body = (
                '<main class="card"><p class="demo-note">Demo checkout: no money moves here.</p>'
                f"<h1>No such payment</h1><p>There is no demo payment {html.escape(payment_id)}.</p>"
                f'<p><a href="{html.escape(back_url)}">Back to the chat</a></p></main>'
            )
            return HTMLResponse(
                page("Demo checkout: no such payment", body, stylesheet=stylesheet, css_class="checkout"),
                status_code=404,
            )
        request = gateway.requests.get(payment_id)
        amount = f"{payment.amount.to_decimal_string()} {payment.amount.currency}"
        rows = [("Payment", payment_id), ("Amount", amount)]
        if request is not None:
            rows[:0] = [("For", request.description)]
            rows.append(("Receipt to", request.customer_email.value))
        rows.append(("Status", payment.status.value))
        details = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
        if payment.status is PaymentStatus.PENDING:
            action = f"/demo/checkout/{html.escape(payment_id)}"
            actions = (
                '<div class="actions">'
                f'<form method="post" action="{action}"><button type="submit" class="pay">Pay {html.escape(amount)}</button></form>'
                f'<form method="post" action="{action}/cancel"><button type="submit" class="cancel">Cancel payment</button></form>'
                "</div>"
            )
        else:
            actions = ""
        outcome = f'<p class="outcome status-{html.escape(payment.status.value)}">{html.escape(_OUTCOMES.get(payment.status, ""))}</p>'
        if notified:
            outcome += f'<p class="small">YooKassa\'s notification to POST /webhooks/yookassa was answered {html.escape(notified)}.</p>'
        body = (
            '<main class="card">'
            '<p class="demo-note"><strong>Demo checkout.</strong> This page stands in for YooKassa. '
            "No money moves and no card is asked for: the buttons only tell the shop what a real payment would.</p>"
            f"<h1>Checkout</h1><dl>{details}</dl>{outcome}{actions}"
            f'<p><a class="back" href="{html.escape(back_url)}">← Back to the chat</a></p>'
            "</main>"
        )
        return HTMLResponse(
            page(f"Demo checkout: payment {payment_id}", body, stylesheet=stylesheet, css_class="checkout")
        )

    async def show(request: Request) -> Response:
        return render(request.path_params["payment_id"], request.query_params.get("notified"))

    async def settle(request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        current = gateway.payments.get(payment_id)
        if current is None:
            return render(payment_id, None)
        if current.status is not PaymentStatus.PENDING:  # final: nothing to do, nobody to notify
            return RedirectResponse(f"/demo/checkout/{payment_id}", status_code=303)
        cancel = request.url.path.endswith("/cancel")
        payment = gateway.cancel(payment_id) if cancel else gateway.succeed(payment_id)
        event = "payment.canceled" if payment.status is PaymentStatus.CANCELED else "payment.succeeded"
        answer = await send_notification(webhook_url, payment_id, event)
        return RedirectResponse(f"/demo/checkout/{payment_id}?notified={answer.status_code}", status_code=303)

    return [
        Route("/demo/checkout/{payment_id}", show, methods=["GET"]),
        Route("/demo/checkout/{payment_id}", settle, methods=["POST"]),
        Route("/demo/checkout/{payment_id}/cancel", settle, methods=["POST"]),
    ]


async def send_notification(webhook_url: str, payment_id: str, event: str = "payment.succeeded") -> httpx.Response:
    """What YooKassa sends to our webhook when a payment's state changes."""
    body = {"type": "notification", "event": event, "object": {"id": payment_id, "status": event.split(".")[1]}}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(webhook_url, json=body)
