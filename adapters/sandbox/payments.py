"""Payments in memory: nothing is charged, the buyer pays with a button in the bot."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from application.ports.payment_gateway import Payment, PaymentGateway, PaymentNotFound, PaymentRequest
from domain.purchase import PaymentStatus

log = logging.getLogger(__name__)

# The bot's /start payload that opens a sandbox payment: ``sandboxpay_<payment id>``.
PAY_PREFIX = "sandboxpay_"
_FINAL = (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED)


class SandboxPaymentGateway(PaymentGateway):
    """``PaymentGateway`` with the payments in this process's memory. No money moves.

    Like YooKassa, one payment per idempotency key, and a final state never changes back. A
    payment's ``confirmation_url`` is a Telegram deep link back into the bot,
    ``https://t.me/<bot username>?start=sandboxpay_<payment id>``, which works from any phone
    without a public URL: the bot answers it with Pay and Cancel buttons (``succeed``, ``cancel``).
    ``bot_username`` tells the bot's username (asked once, when the first payment is made).
    A restart forgets every payment: asking about one is ``PaymentNotFound``, so the next /buy
    makes a new one."""

    def __init__(self, bot_username: Callable[[], Awaitable[str]]) -> None:
        self._bot_username = bot_username
        self._payments: dict[str, Payment] = {}
        self._requests: dict[str, PaymentRequest] = {}
        self._by_key: dict[str, str] = {}

    async def create_payment(self, request: PaymentRequest) -> Payment:
        known = self._by_key.get(request.idempotency_key)
        if known is not None:
            return self._payments[known]
        payment_id = uuid.uuid4().hex  # 32 characters: fits a /start payload (64 at most)
        username = await self._bot_username()
        payment = Payment(
            payment_id=payment_id,
            status=PaymentStatus.PENDING,
            amount=request.amount,
            purchase_id=request.purchase_id,
            confirmation_url=f"https://t.me/{username}?start={PAY_PREFIX}{payment_id}",
        )
        self._payments[payment_id] = payment
        self._requests[payment_id] = request
        self._by_key[request.idempotency_key] = payment_id
        log.info(
            "sandbox payment %s for purchase %s: %s %s (no money moves)",
            payment_id,
            request.purchase_id,
            request.amount.to_decimal_string(),
            request.amount.currency,
        )
        return payment

    async def fetch_payment(self, payment_id: str) -> Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise PaymentNotFound(
                f"no sandbox payment {payment_id!r} in this process (sandbox payments live in memory)"
            )
        return payment

    def payment(self, payment_id: str) -> Payment | None:
        return self._payments.get(payment_id)

    def request_of(self, payment_id: str) -> PaymentRequest | None:
        return self._requests.get(payment_id)

    def succeed(self, payment_id: str) -> Payment | None:
        """The buyer pressed Pay: the payment succeeds (a final state stays). ``None`` if unknown."""
        return self._move(payment_id, PaymentStatus.SUCCEEDED)

    def cancel(self, payment_id: str) -> Payment | None:
        """The buyer pressed Cancel: the payment is canceled (a final state stays). ``None`` if unknown."""
        return self._move(payment_id, PaymentStatus.CANCELED)

    def _move(self, payment_id: str, status: PaymentStatus) -> Payment | None:
        current = self._payments.get(payment_id)
        if current is None or current.status in _FINAL:
            return current
        moved = self._payments[payment_id] = replace(current, status=status)
        log.info("sandbox payment %s: %s (no money moved)", payment_id, status.value)
        return moved
