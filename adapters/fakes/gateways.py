"""Fakes of the outside world: a payment provider, Telegram and an email service, in memory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime

from application.ports.messaging import CourseAccess, DeliveryError, EmailSender, LinkButton, Notifier, OutgoingEmail
from application.ports.payment_gateway import (
    Payment,
    PaymentGateway,
    PaymentGatewayUnavailable,
    PaymentNotFound,
    PaymentRequest,
)
from domain.ids import TelegramId
from domain.purchase import PaymentStatus


class FakePaymentGateway(PaymentGateway):
    """Behaves like YooKassa for our purposes: one payment per idempotency key, statuses moved
    by the test (``succeed``/``cancel``), an outage switch (``available``), and ``lose_answers``:
    that many calls do their work and then fail as if the answer was lost on the way back."""

    def __init__(self, confirmation_url: str = "https://yoomoney.test/checkout/{payment_id}") -> None:
        self.payments: dict[str, Payment] = {}
        self.requests: dict[str, PaymentRequest] = {}  # payment id -> the request that made it
        self._by_key: dict[str, str] = {}
        self._confirmation_url = confirmation_url
        self._numbers = itertools.count(1)
        self.available = True
        self.lose_answers = 0
        self.create_calls = 0

    def _check(self) -> None:
        if not self.available:
            raise PaymentGatewayUnavailable("fake payment provider is down")

    def _answer(self, payment: Payment) -> Payment:
        if self.lose_answers > 0:
            self.lose_answers -= 1
            raise PaymentGatewayUnavailable("fake payment provider: the answer was lost")
        return payment

    async def create_payment(self, request: PaymentRequest) -> Payment:
        self._check()
        self.create_calls += 1
        if request.idempotency_key in self._by_key:
            return self._answer(self.payments[self._by_key[request.idempotency_key]])
        payment_id = f"fake-{next(self._numbers):06d}-{str(request.purchase_id)[:8]}"
        payment = Payment(
            payment_id=payment_id,
            status=PaymentStatus.PENDING,
            amount=request.amount,
            purchase_id=request.purchase_id,
            confirmation_url=self._confirmation_url.format(payment_id=payment_id),
        )
        self.payments[payment_id] = payment
        self.requests[payment_id] = request
        self._by_key[request.idempotency_key] = payment_id
        return self._answer(payment)

    async def fetch_payment(self, payment_id: str) -> Payment:
        self._check()
        if payment_id not in self.payments:
            raise PaymentNotFound(payment_id)
        return self._answer(self.payments[payment_id])

    def set_status(self, payment_id: str, status: PaymentStatus) -> Payment:
        current = self.payments[payment_id]
        if current.status in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED):
            return current  # final at the provider too
        self.payments[payment_id] = replace(current, status=status)
        return self.payments[payment_id]

    def succeed(self, payment_id: str) -> Payment:
        return self.set_status(payment_id, PaymentStatus.SUCCEEDED)

    def cancel(self, payment_id: str) -> Payment:
        return self.set_status(payment_id, PaymentStatus.CANCELED)


@dataclass(frozen=True)
class SentMessage:
    telegram_id: TelegramId
    text: str
    buttons: tuple[LinkButton, ...]


class RecordingNotifier(Notifier):
    """Telegram as far as sending goes. ``lose_answers``: that many sends reach the user and then
    fail as if Telegram's answer was lost (Telegram has no idempotency key: a retry sends again)."""

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []
        self.available = True
        self.lose_answers = 0
        self.blocked: set[TelegramId] = set()  # users who blocked the bot

    async def send_message(self, telegram_id: TelegramId, text: str, buttons: tuple[LinkButton, ...] = ()) -> None:
        if not self.available:
            raise DeliveryError("fake Telegram is down")
        if telegram_id in self.blocked:
            raise DeliveryError("Forbidden: bot was blocked by the user", permanent=True)
        self.sent.append(SentMessage(telegram_id, text, tuple(buttons)))
        if self.lose_answers > 0:
            self.lose_answers -= 1
            raise DeliveryError("fake Telegram: the answer was lost")

    def to(self, telegram_id: TelegramId) -> list[SentMessage]:
        return [m for m in self.sent if m.telegram_id == telegram_id]


class RecordingEmailSender(EmailSender):
    """Like Resend: a second send with the same idempotency key sends nothing. ``lose_answers``:
    that many sends are accepted and then fail as if the answer was lost."""

    def __init__(self) -> None:
        self.sent: dict[str, OutgoingEmail] = {}
        self.available = True
        self.lose_answers = 0
        self.calls = 0

    async def send(self, email: OutgoingEmail, idempotency_key: str) -> None:
        self.calls += 1
        if not self.available:
            raise DeliveryError("fake email service is down")
        self.sent.setdefault(idempotency_key, email)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            raise DeliveryError("fake email service: the answer was lost")


@dataclass
class FakeInvite:
    link: str
    name: str
    expires_at: datetime
    revoked: bool = False
    used_by: set[TelegramId] = field(default_factory=set)


class FakeCourseAccess(CourseAccess):
    """The course chat: members, and invite links that admit one member each. ``lose_answers``:
    that many invite links are made and then the call fails as if the answer was lost (the link
    exists in Telegram but we never learn it)."""

    def __init__(self) -> None:
        self.invites: dict[str, FakeInvite] = {}
        self.members: set[TelegramId] = set()
        self.removed: list[TelegramId] = []
        self.available = True
        self.revoke_fails = False  # revoking links fails while the rest works
        self.lose_answers = 0
        self._numbers = itertools.count(1)

    def _check(self) -> None:
        if not self.available:
            raise DeliveryError("fake Telegram is down")

    async def create_invite(self, name: str, expires_at: datetime) -> str:
        self._check()
        link = f"https://t.me/+fakeinvite{next(self._numbers):04d}"
        self.invites[link] = FakeInvite(link, name, expires_at)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            raise DeliveryError("fake Telegram: the answer was lost")
        return link

    async def revoke_invite(self, invite_link: str) -> None:
        self._check()
        if self.revoke_fails:
            raise DeliveryError(f"fake Telegram cannot revoke {invite_link}")
        if invite_link in self.invites:
            self.invites[invite_link].revoked = True

    async def is_member(self, telegram_id: TelegramId) -> bool:
        self._check()
        return telegram_id in self.members

    async def remove_member(self, telegram_id: TelegramId) -> None:
        self._check()
        self.members.discard(telegram_id)
        self.removed.append(telegram_id)

    def join(self, telegram_id: TelegramId, link: str, at: datetime) -> bool:
        """A user follows a link: admitted unless revoked, expired or already used by another."""
        invite = self.invites.get(link)
        if invite is None or invite.revoked or invite.expires_at <= at or (invite.used_by - {telegram_id}):
            return False
        invite.used_by.add(telegram_id)
        self.members.add(telegram_id)
        return True

    @property
    def live_links(self) -> list[str]:
        return [i.link for i in self.invites.values() if not i.revoked]
