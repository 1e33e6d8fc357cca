"""The playground's model of the world: demo users talking to the real bot, offline.

A visitor's message or button press becomes the update Telegram would send; it goes through the
real dispatcher (``feed_update``), and a method a handler returns is executed as long polling
does. Everything the bot does lands in the ``RecordingBotSession``, which keeps it as chats. The
side panels are read from the fakes (emails, invite links, payments) and from the database
(ledger, balances, outbox)."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import AiogramError
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.fakes.gateways import FakeCourseAccess, FakePaymentGateway, RecordingEmailSender
from adapters.sql.readers import SqlReferralReader
from application.terms import ShopTerms
from domain.ids import TelegramId
from entrypoints.offline import DEMO_BOT_USERNAME, ChatEntry, RecordingBotSession
from entrypoints.playground import queries

log = logging.getLogger(__name__)

SHOWN_CALLS = 40  # the latest Bot API calls the page lists


@dataclass(frozen=True)
class DemoUser:
    id: int
    name: str
    role: str  # what the page calls them: "referrer", "buyer", "admin", ...
    language: str = "en"

    @property
    def username(self) -> str:
        return self.name.lower()


class PlaygroundError(Exception):
    """A request the playground cannot carry out (an unknown user, a button that is not there)."""


@dataclass(frozen=True)
class JoinResult:
    joined: bool
    stayed: bool
    reason: str = ""


class Playground:
    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        bot: Bot,
        session: RecordingBotSession,
        course: FakeCourseAccess,
        email: RecordingEmailSender,
        gateway: FakePaymentGateway,
        engine: AsyncEngine,
        terms: ShopTerms,
        course_chat_id: int,
        users: Sequence[DemoUser],
    ) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.session = session
        self.course = course
        self.email = email
        self.gateway = gateway
        self.terms = terms
        self.course_chat_id = course_chat_id
        self.users: dict[int, DemoUser] = {u.id: u for u in users}
        self.on_change: Callable[[], None] = lambda: None  # set to the outbox worker's wake()
        self._engine = engine
        self._referrals = SqlReferralReader(engine)
        self._updates = itertools.count(1)
        self._callbacks = itertools.count(1)
        self._callback_users: dict[str, int] = {}

    def add_user(self, user: DemoUser) -> None:
        self.users[user.id] = user

    def user(self, user_id: int) -> DemoUser:
        try:
            return self.users[user_id]
        except KeyError:
            raise PlaygroundError(f"no demo user {user_id}") from None

    # --- what a visitor does ------------------------------------------------------------------------

    async def send(self, user_id: int, text: str, *, language: str | None = None) -> list[ChatEntry]:
        """``user_id`` types ``text``; returns the bot's messages in their chat that came of it."""
        user = self.user(user_id)
        text = text.strip()
        if not text:
            raise PlaygroundError("an empty message")
        keyboard = self.session.reply_keyboards.get(user.id)
        if keyboard and keyboard.get("one_time_keyboard") and text in _labels(keyboard):
            self.session.reply_keyboards.pop(user.id, None)
        entry = self.session.add_entry(user.id, "user", "user", text)
        message: dict[str, Any] = {
            "message_id": entry.message_id,
            "date": entry.date,
            "chat": {"id": user.id, "type": "private", "first_name": user.name, "username": user.username},
            "from": self._from(user, language),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return await self._feed(user.id, {"message": message})

    async def press(self, user_id: int, message_id: int, data: str, *, language: str | None = None) -> list[ChatEntry]:
        """``user_id`` presses the callback button ``data`` under the bot's message ``message_id``."""
        user = self.user(user_id)
        entry = self.session.find(user.id, message_id)
        rows = (entry.reply_markup or {}).get("inline_keyboard", []) if entry else []
        if entry is None or not any(b.get("callback_data") == data for row in rows for b in row):
            raise PlaygroundError("there is no such button (any more)")
        callback_id = f"{user.id}-{next(self._callbacks)}"
        self._callback_users[callback_id] = user.id
        query = {
            "id": callback_id,
            "from": self._from(user, language),
            "chat_instance": f"demo-{user.id}",
            "data": data,
            "message": self.session.message_json(self.bot, entry),
        }
        return await self._feed(user.id, {"callback_query": query})

    async def join(self, user_id: int, link: str) -> JoinResult:
        """``user_id`` follows the invite ``link`` into the course chat: Telegram admits them
        (unless the link is revoked, expired or someone else's already) and tells the bot with a
        ``chat_member`` update, which spends the link."""
        user = self.user(user_id)
        if not self.course.join(TelegramId(user.id), link, datetime.now(UTC)):
            return JoinResult(False, False, "this invite link no longer works (revoked, expired or used)")
        self.session.add_entry(user.id, "service", "join", f"You joined the course chat by {link}")
        person = self._from(user, None)
        update = {
            "chat_member": {
                "chat": {"id": self.course_chat_id, "type": "supergroup", "title": self.terms.course_title},
                "from": person,
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": person},
                "new_chat_member": {"status": "member", "user": person},
                "invite_link": {
                    "invite_link": link,
                    "creator": {"id": self.bot.id, "is_bot": True, "first_name": "aimpay demo"},
                    "creates_join_request": False,
                    "is_primary": False,
                    "is_revoked": False,
                },
            }
        }
        await self._feed(user.id, update)
        stayed = TelegramId(user.id) in self.course.members
        if not stayed:
            self.session.add_entry(user.id, "service", "removed", "The bot removed you from the course chat.")
        return JoinResult(True, stayed)

    async def _feed(self, user_id: int, body: dict[str, Any]) -> list[ChatEntry]:
        mark = self.session.tick()
        update = Update.model_validate({"update_id": next(self._updates), **body}, context={"bot": self.bot})
        try:
            answer = await self.dispatcher.feed_update(self.bot, update)
            if isinstance(answer, TelegramMethod):  # what polling does with an answer a handler returned
                await self.bot(answer)
        except AiogramError as exc:  # as polling would: logged, the update is done
            log.warning("the bot's answer to update %s failed: %s", update.update_id, exc)
        finally:
            self.on_change()
        return [e for e in self.session.messages(user_id) if e.sender == "bot" and e.version > mark]

    def _from(self, user: DemoUser, language: str | None) -> dict[str, Any]:
        return {
            "id": user.id,
            "is_bot": False,
            "first_name": user.name,
            "username": user.username,
            "language_code": language or user.language,
        }

    # --- what the page shows ------------------------------------------------------------------------

    def chat(self, user_id: int) -> list[ChatEntry]:
        return self.session.messages(user_id)

    async def state(self, user_id: int) -> dict[str, Any]:
        user = self.user(user_id)
        now = datetime.now(UTC)
        currency = self.terms.price.currency
        snapshot = await queries.snapshot(self._engine, now)
        balances = []
        for customer in snapshot.customers:
            stats = await self._referrals.referral_stats(TelegramId(customer.telegram_id), currency)
            if stats is None:
                continue
            balances.append(
                {
                    "telegram_id": customer.telegram_id,
                    "name": customer.name,
                    "code": stats.code.value,
                    "referrer": customer.referrer,
                    "invited": stats.invited,
                    "paid": stats.paid,
                    "balance": f"{stats.balance.to_decimal_string()} {currency}",
                }
            )
        admins = [a.value for a in self.terms.admin_ids]
        return {
            "bot": {"username": DEMO_BOT_USERNAME, "link": f"https://t.me/{DEMO_BOT_USERNAME}"},
            "course": {"title": self.terms.course_title, "price": f"{self.terms.price.to_decimal_string()} {currency}"},
            "user": user.id,
            "users": [
                {"id": u.id, "name": u.name, "role": u.role, "language": u.language} for u in self.users.values()
            ],
            "chat": {
                "messages": [e.as_json() for e in self.chat(user.id)],
                "reply_keyboard": self.session.reply_keyboards.get(user.id),
            },
            "toasts": [
                {"seq": t.seq, "text": t.text, "show_alert": t.show_alert}
                for t in self.session.toasts
                if self._callback_users.get(t.callback_query_id) == user.id
            ],
            "emails": [
                {"key": key, "to": mail.to.value, "subject": mail.subject, "text": mail.text, "html": mail.html}
                for key, mail in reversed(self.email.sent.items())
            ],
            "admin_notes": [
                {"chat_id": admin, "date": e.date, "text": e.text or "", "method": e.method}
                for admin in admins
                for e in reversed(self.session.messages(admin))
                if e.sender == "bot"
            ],
            "invites": [self._invite(link, now) for link in reversed(self.course.invites)],
            "members": [self._name(m.value) for m in sorted(self.course.members, key=lambda m: m.value)],
            "payments": [
                {
                    "id": p.payment_id,
                    "status": p.status.value,
                    "amount": f"{p.amount.to_decimal_string()} {p.amount.currency}",
                    "url": f"/demo/checkout/{p.payment_id}",
                }
                for p in reversed(self.gateway.payments.values())
            ],
            "ledger": [
                {
                    "at": e.created_at.isoformat(timespec="seconds"),
                    "referrer": e.referrer,
                    "kind": e.kind,
                    "amount": e.amount,
                    "buyer": e.buyer,
                }
                for e in snapshot.ledger
            ],
            "balances": balances,
            "outbox": [
                {
                    "key": m.key,
                    "kind": m.kind,
                    "what": m.what,
                    "to": self._recipient(m.to),
                    "state": m.state,
                    "attempts": m.attempts,
                    "next_attempt_at": m.next_attempt_at.isoformat(timespec="seconds") if m.next_attempt_at else None,
                    "last_error": m.last_error,
                }
                for m in snapshot.outbox
            ],
            "calls": [c.as_json() for c in reversed(self.session.calls[-SHOWN_CALLS:])],
        }

    def _invite(self, link: str, now: datetime) -> dict[str, Any]:
        invite = self.course.invites[link]
        if invite.revoked:
            state = "revoked"
        elif invite.expires_at <= now:
            state = "expired"
        else:
            state = "live"
        return {
            "link": link,
            "name": invite.name,
            "expires_at": invite.expires_at.isoformat(timespec="minutes"),
            "state": state,
            "used_by": [self._name(u.value) for u in sorted(invite.used_by, key=lambda u: u.value)],
        }

    def _name(self, telegram_id: int) -> str:
        user = self.users.get(telegram_id)
        return f"{user.name} ({telegram_id})" if user else str(telegram_id)

    def _recipient(self, to: str | int | None) -> str:
        if isinstance(to, int):
            return self._name(to)
        return to or ""


def _labels(keyboard: dict[str, Any]) -> set[str]:
    return {b["text"] if isinstance(b, dict) else str(b) for row in keyboard.get("keyboard", []) for b in row}
