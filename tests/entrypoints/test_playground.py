"""The playground of ``aimpay demo`` through its JSON API, on the real demo app (built as
``aimpay demo`` builds it, on a fresh SQLite file) served by uvicorn: the bot is the real one,
offline; the checkout page notifies our own webhook over HTTP; the outbox delivers through the
real ``TelegramNotifier`` into the recording bot's chats."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    URLInputFile,
)

from domain.customer import Language
from entrypoints.cli import main
from entrypoints.demo import ADMIN, BUYER, REFERRER, Demo, build_demo
from tests.standins.server import free_port, serve_asgi
from tests.unit.harness import CATALOG

EN = Language.EN
INVITE = re.compile(r"https://t\.me/\+fakeinvite\d+")
PDF = b"%PDF-1.4\n% a report the bot made\n%%EOF\n"


def png(width: int, height: int) -> bytes:
    """A valid, tiny PNG of ``width`` x ``height`` white pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class Api:
    demo: Demo
    http: httpx.AsyncClient

    async def state(self, user: int) -> dict[str, Any]:
        response = await self.http.get("/playground/api/state", params={"user": user})
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        return dict(response.json())

    async def send(self, user: int, text: str) -> list[dict[str, Any]]:
        response = await self.http.post("/playground/api/send", json={"user": user, "text": text})
        assert response.status_code == 200, response.text
        return list(response.json()["replies"])

    async def press(self, user: int, message: dict[str, Any], data: str) -> list[dict[str, Any]]:
        response = await self.http.post(
            "/playground/api/press", json={"user": user, "message_id": message["message_id"], "data": data}
        )
        assert response.status_code == 200, response.text
        return list(response.json()["replies"])

    async def messages(self, user: int) -> list[dict[str, Any]]:
        return list((await self.state(user))["chat"]["messages"])

    async def eventually(self, user: int, condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The state of ``user``'s page once ``condition`` holds (the outbox works in the background)."""
        async with asyncio.timeout(10):
            while not condition(state := await self.state(user)):
                await asyncio.sleep(0.05)
        return state


@asynccontextmanager
async def running_demo(tmp_path: Path, prepare: Callable[[Demo], None] = lambda demo: None) -> AsyncIterator[Api]:
    port = free_port()
    demo = await build_demo(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", f"http://127.0.0.1:{port}")
    prepare(demo)
    async with serve_asgi(demo.app, port) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield Api(demo, http)


def url_buttons(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["url"] for row in rows for b in row if "url" in b]


def bot_texts(state: dict[str, Any]) -> list[str]:
    return [m["text"] or "" for m in state["chat"]["messages"] if m["sender"] == "bot"]


async def checkout(api: Api, user: int, email: str) -> str:
    """``user`` starts (if new), presses "buy" and gives ``email``; returns the payment URL."""
    [welcome] = await api.send(user, "/start")
    [question] = await api.press(user, welcome, "menu:buy")
    assert question["text"] == CATALOG.text(EN, "ask_email")
    [offer] = await api.send(user, email)
    [pay_url] = url_buttons(offer)
    assert "/demo/checkout/" in pay_url
    return pay_url


pytestmark = pytest.mark.usefixtures("clean_env")


async def test_a_referred_purchase_played_through_the_api(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as api:
        # Anna asks for her referral link with the menu's button
        [welcome] = await api.send(REFERRER.id, "/start")
        assert welcome["text"].startswith("Hello, Anna!")
        [summary] = await api.press(REFERRER.id, welcome, "menu:ref")
        code = re.search(r"\?start=([A-Za-z0-9_-]+)", summary["text"])
        assert code is not None

        # Boris comes by her link, buys and pays on the checkout page
        await api.send(BUYER.id, f"/start {code.group(1)}")
        pay_url = await checkout(api, BUYER.id, "boris@example.com")
        page = await api.http.get(pay_url)
        assert page.status_code == 200 and "No money moves" in page.text and "Cancel payment" in page.text
        paid = await api.http.post(pay_url)
        assert paid.status_code == 303 and paid.headers["location"].endswith("?notified=200")
        after = await api.http.get(paid.headers["location"])
        assert "succeeded" in after.text and 'href="/"' in after.text and "<form" not in after.text

        # the outbox delivers: the invite link in Boris's chat, the email, the notes, the credit
        boris = await api.eventually(
            BUYER.id,
            lambda s: (
                any(INVITE.search(t) for t in bot_texts(s))
                and len(s["emails"]) == 1
                and len(s["admin_notes"]) == 1
                and bool(s["outbox"])
                and all(m["state"] == "delivered" for m in s["outbox"])
            ),
        )
        [invite_message] = [m for m in boris["chat"]["messages"] if INVITE.search(m["text"] or "")]
        link = INVITE.search(invite_message["text"]).group(0)  # type: ignore[union-attr]
        assert url_buttons(invite_message) == [link]
        [email] = boris["emails"]
        assert email["to"] == "boris@example.com" and "Python for course authors" in email["subject"]
        assert link in email["html"] and link in email["text"]
        assert "Boris" in boris["admin_notes"][0]["text"] and boris["admin_notes"][0]["chat_id"] == ADMIN.id
        [entry] = boris["ledger"]
        assert (entry["referrer"], entry["amount"], entry["buyer"]) == (f"Anna ({REFERRER.id})", "499.00 RUB", "Boris")
        balances = {b["name"]: b for b in boris["balances"]}
        assert balances["Anna"]["balance"] == "499.00 RUB" and (
            balances["Anna"]["invited"],
            balances["Anna"]["paid"],
        ) == (1, 1)
        assert balances["Boris"]["referrer"] == "Anna"
        assert {m["what"] for m in boris["outbox"]} >= {"issue the invite link", "access.granted", "admin.sale"}
        assert [(i["link"], i["state"]) for i in boris["invites"]] == [(link, "live")]
        assert [p["status"] for p in boris["payments"]] == ["succeeded"]
        anna = await api.state(REFERRER.id)
        assert any("499.00" in t for t in bot_texts(anna)), "the referrer's note lands in Anna's chat"
        assert anna["emails"] == boris["emails"]  # the panels are the same for everybody

        # Boris joins the course chat by his link: a chat_member update spends it
        joined = await api.http.post("/playground/api/join", json={"user": BUYER.id, "link": link})
        assert joined.json() == {"ok": True, "joined": True, "stayed": True, "error": None}
        boris = await api.state(BUYER.id)
        assert [(i["state"], i["used_by"]) for i in boris["invites"]] == [("revoked", [f"Boris ({BUYER.id})"])]
        assert boris["members"] == [f"Boris ({BUYER.id})"]
        again = await api.http.post("/playground/api/join", json={"user": REFERRER.id, "link": link})
        assert again.json()["joined"] is False

        # the admin bans Boris: the ban answers, and Boris is out of the chat
        [answer] = await api.send(ADMIN.id, f"/ban {BUYER.id}")
        assert answer["text"] == CATALOG.text(EN, "ban.done", id=BUYER.id)
        assert (await api.state(BUYER.id))["members"] == []


async def test_cancelling_on_the_checkout_page_tells_the_buyer(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as api:
        pay_url = await checkout(api, BUYER.id, "boris@example.com")
        cancelled = await api.http.post(f"{pay_url}/cancel")
        assert cancelled.status_code == 303 and cancelled.headers["location"].endswith("?notified=200")
        boris = await api.eventually(
            BUYER.id, lambda s: CATALOG.text(EN, "payment.canceled") in bot_texts(s) and bool(s["payments"])
        )
        assert [p["status"] for p in boris["payments"]] == ["canceled"]
        assert boris["emails"] == [] and boris["invites"] == [] and boris["ledger"] == []
        page = await api.http.get(pay_url)
        assert "Cancelled" in page.text and "<form" not in page.text  # nothing left to press


async def test_the_outbox_panel_shows_a_message_waiting_for_its_next_attempt(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as api:
        api.demo.email.available = False  # Resend is down
        pay_url = await checkout(api, BUYER.id, "boris@example.com")
        await api.http.post(pay_url)
        boris = await api.eventually(
            BUYER.id,
            lambda s: (
                any(m["to"] == "boris@example.com" and m["attempts"] for m in s["outbox"])
                and any(INVITE.search(t) for t in bot_texts(s))
            ),
        )
        [email] = [m for m in boris["outbox"] if m["to"] == "boris@example.com"]
        assert (email["state"], email["attempts"], email["last_error"]) == ("deferred", 1, "fake email service is down")
        assert email["next_attempt_at"] is not None and boris["emails"] == []
        assert [m["state"] for m in boris["outbox"] if m["what"] == "access.granted" and m["to"] != email["to"]] == [
            "delivered"
        ], "Telegram delivered the link meanwhile"


def later_capabilities(demo: Demo) -> None:
    """Handlers of the kind later features add: an edited message, a document, a photo, and
    calls the playground knows nothing special about."""
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="+1", callback_data="count")]])

    async def counter(message: Message, bot: Bot) -> None:
        await bot.send_message(message.chat.id, "Counting: 1", reply_markup=keyboard)

    async def count(callback: CallbackQuery) -> None:
        await callback.answer("counted")
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("Counting: 2 <b>not bold</b>")  # no keyboard: the edit removes it

    async def report(message: Message, bot: Bot) -> None:
        await bot.send_chat_action(message.chat.id, "upload_document")
        await bot.send_document(message.chat.id, BufferedInputFile(PDF, "report.pdf"), caption="The report")
        await bot.send_photo(message.chat.id, BufferedInputFile(png(3, 2), "chart.png"))
        await bot.send_dice(message.chat.id)
        await bot.send_photo(message.chat.id, URLInputFile("https://example.invalid/chart.png"))  # never fetched

    dispatcher = demo.playground.dispatcher
    dispatcher.message.register(counter, Command("counter"))
    dispatcher.callback_query.register(count, F.data == "count")
    dispatcher.message.register(report, Command("report"))


async def test_an_edited_message_replaces_its_bubble_and_files_are_kept(tmp_path: Path) -> None:
    async with running_demo(tmp_path, later_capabilities) as api:
        [first] = await api.send(BUYER.id, "/counter")
        assert first["text"] == "Counting: 1" and not first["edited"]
        [reply] = await api.press(BUYER.id, first, "count")
        assert (reply["message_id"], reply["text"]) == (first["message_id"], "Counting: 2 <b>not bold</b>")
        state = await api.state(BUYER.id)
        counting = [m for m in state["chat"]["messages"] if (m["text"] or "").startswith("Counting")]
        assert len(counting) == 1, "the edit replaced the bubble"
        [edited] = counting
        assert (edited["message_id"], edited["text"], edited["edited"]) == (
            first["message_id"],
            "Counting: 2 <b>not bold</b>",
            True,
        )
        assert edited["reply_markup"] is None
        assert [t["text"] for t in state["toasts"]] == ["counted"]
        assert (await api.state(REFERRER.id))["toasts"] == []  # a toast is shown to the one who pressed
        stale = await api.http.post(
            "/playground/api/press", json={"user": BUYER.id, "message_id": first["message_id"], "data": "count"}
        )
        assert stale.status_code == 400 and "no such button" in stale.json()["error"]

        replies = await api.send(BUYER.id, "/report")
        assert [r["method"] for r in replies] == ["sendDocument", "sendPhoto", "sendDice", "sendPhoto"]
        document, photo, dice, elsewhere = replies
        [pdf] = document["files"]
        assert (pdf["kind"], pdf["filename"], pdf["size"], document["text"]) == (
            "document",
            "report.pdf",
            len(PDF),
            "The report",
        )
        download = await api.http.get(f"/playground/files/{pdf['file_id']}")
        assert download.status_code == 200 and download.content == PDF
        assert download.headers["content-type"] == "application/pdf"
        assert download.headers["content-disposition"].startswith("attachment;")
        [image] = photo["files"]
        assert (image["kind"], image["width"], image["height"]) == ("photo", 3, 2)
        shown = await api.http.get(f"/playground/files/{image['file_id']}")
        assert shown.headers["content-type"] == "image/png" and shown.headers["content-disposition"].startswith(
            "inline;"
        )
        assert dice["files"] == [] and dice["text"] is None  # drawn generically, from its method and params
        assert elsewhere["files"] == [{"kind": "photo", "ref": "https://example.invalid/chart.png"}]
        calls = [c["method"] for c in (await api.state(BUYER.id))["calls"]]
        assert {"sendChatAction", "sendDice", "editMessageText", "answerCallbackQuery"} <= set(calls)
        assert (await api.http.get("/playground/files/nope")).status_code == 404


async def test_every_page_is_proper_html_without_inline_script(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as api:
        pay_url = await checkout(api, BUYER.id, "boris@example.com")
        pages = [await api.http.get("/"), await api.http.get(pay_url), await api.http.get("/demo/checkout/unknown")]
        assert [p.status_code for p in pages] == [200, 200, 404]
        for page in pages:
            assert page.headers["content-type"].startswith("text/html")
            html = page.text
            assert html.startswith("<!doctype html>")
            assert '<meta charset="utf-8">' in html
            assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
            assert re.search(r"<title>[^<]+</title>", html)
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline script"
            assert not re.search(r"\son[a-z]+\s*=", html), "no inline event handler"
            assert "http://" not in html.replace(api.demo.base, "") and "https://" not in html, "nothing from elsewhere"
        for asset, kind in [
            ("playground.js", "javascript"),
            ("style.css", "text/css"),
            ("favicon.svg", "image/svg+xml"),
        ]:
            response = await api.http.get(f"/playground/static/{asset}")
            assert response.status_code == 200 and kind in response.headers["content-type"]


async def test_the_api_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as api:
        assert (await api.http.get("/playground/api/state", params={"user": 5})).status_code == 404
        assert (await api.http.get("/playground/api/state", params={"user": "x"})).status_code == 404
        for body in ({"user": BUYER.id, "text": "  "}, {"user": BUYER.id}, {"user": 7, "text": "hi"}, [1]):
            assert (await api.http.post("/playground/api/send", json=body)).status_code == 400
        assert (await api.http.post("/playground/api/send", content=b"{")).status_code == 400


def test_a_second_demo_on_a_busy_port_refuses_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as running:
        running.bind(("127.0.0.1", 0))
        running.listen()
        port = running.getsockname()[1]
        database = tmp_path / "var" / f"demo-{port}.db"  # the running demo's
        database.parent.mkdir()
        database.write_bytes(b"the running demo's data")

        assert main(["demo", "--once", "--port", str(port)]) == 1

    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"aimpay: port {port} is in use (another demo or server?): choose another with --port"
    ]
    assert captured.out == ""
    assert database.read_bytes() == b"the running demo's data"
    assert sorted(p.name for p in database.parent.iterdir()) == [database.name]
