"""The sandbox's checkout in the bot (``AIMPAY_PAYMENTS=sandbox``): no money moves.

The payment button of /buy is a deep link back into the bot, ``/start sandboxpay_<id>``; it is
answered with [Pay] [Cancel]. Pay moves the sandbox payment to succeeded and confirms it with
the real ``ConfirmPayment``, as YooKassa's notification would; Cancel cancels it the same way.
Without a course chat, an invite link is ``/start sandboxcourse_<token>`` (or a page of ours
linking to it): opening it admits its user, as joining the course chat would."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from dishka.integrations.aiogram import FromDishka, inject

from adapters.catalog import MessageCatalog
from adapters.sandbox import COURSE_PREFIX, PAY_PREFIX, SandboxCourseAccess, SandboxPaymentGateway
from application.ports.messaging import CourseAccess
from application.ports.payment_gateway import Payment
from application.services.payments import PaymentOutcome
from application.terms import ShopTerms
from application.use_cases.confirm_payment import ConfirmPayment
from application.use_cases.record_course_join import JoinOutcome, RecordCourseJoin
from domain.customer import Language
from domain.ids import TelegramId
from domain.purchase import PaymentStatus
from entrypoints.bot.replies import language_of, reply

log = logging.getLogger(__name__)

PAY = "sandbox:pay:"
CANCEL = "sandbox:cancel:"


def _buttons(catalog: MessageCatalog, language: Language, payment_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=catalog.text(language, "sandbox.button.pay"), callback_data=PAY + payment_id),
                InlineKeyboardButton(
                    text=catalog.text(language, "sandbox.button.cancel"), callback_data=CANCEL + payment_id
                ),
            ]
        ]
    )


def _settled(chat_id: int, language: Language, payment: Payment | None, catalog: MessageCatalog) -> SendMessage:
    """The answer about a payment that cannot be paid or canceled (any more)."""
    if payment is None:
        return reply(chat_id, catalog.text(language, "sandbox.unknown_payment"))
    if payment.status is PaymentStatus.SUCCEEDED:
        return reply(chat_id, catalog.text(language, "sandbox.already_paid"))
    return reply(chat_id, catalog.text(language, "sandbox.already_canceled"))


def _wake(outbox_worker: Any, outcome: PaymentOutcome) -> None:
    if outbox_worker is not None and outcome.queued_messages:
        outbox_worker.wake()


def router() -> Router:
    r = Router(name="sandbox")

    @r.message(CommandStart(deep_link=True, magic=F.args.startswith(PAY_PREFIX)))
    @inject
    async def checkout(
        message: Message,
        command: CommandObject,
        catalog: MessageCatalog,
        gateway: FromDishka[SandboxPaymentGateway],
        terms: FromDishka[ShopTerms],
    ) -> SendMessage:
        language = language_of(message.from_user)
        payment_id = (command.args or "").removeprefix(PAY_PREFIX)
        payment = gateway.payment(payment_id)
        if payment is None or payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED):
            return _settled(message.chat.id, language, payment, catalog)
        body = catalog.text(
            language, "sandbox.checkout", title=terms.course_title, price=payment.amount.to_decimal_string()
        )
        return reply(message.chat.id, body, _buttons(catalog, language, payment_id))

    @r.callback_query(F.data.startswith(PAY))
    @inject
    async def pay(
        callback: CallbackQuery,
        catalog: MessageCatalog,
        gateway: FromDishka[SandboxPaymentGateway],
        confirm: FromDishka[ConfirmPayment],
        outbox_worker: Any = None,
    ) -> SendMessage:
        return await _press(callback, catalog, gateway, confirm, outbox_worker, paid=True)

    @r.callback_query(F.data.startswith(CANCEL))
    @inject
    async def cancel(
        callback: CallbackQuery,
        catalog: MessageCatalog,
        gateway: FromDishka[SandboxPaymentGateway],
        confirm: FromDishka[ConfirmPayment],
        outbox_worker: Any = None,
    ) -> SendMessage:
        return await _press(callback, catalog, gateway, confirm, outbox_worker, paid=False)

    @r.message(CommandStart(deep_link=True, magic=F.args.startswith(COURSE_PREFIX)))
    @inject
    async def course_link(
        message: Message,
        command: CommandObject,
        catalog: MessageCatalog,
        course: FromDishka[CourseAccess],
        record_join: FromDishka[RecordCourseJoin],
        terms: FromDishka[ShopTerms],
    ) -> SendMessage:
        user = message.from_user
        assert user is not None  # private chats only
        language = language_of(user)
        token = (command.args or "").removeprefix(COURSE_PREFIX)
        link = course.admit(token, TelegramId(user.id)) if isinstance(course, SandboxCourseAccess) else None
        if link is None:
            return reply(message.chat.id, catalog.text(language, "sandbox.course_link_unusable"))
        outcome = await record_join(TelegramId(user.id), link)  # as joining the course chat would
        log.info("user %s opened sandbox course link %s: %s", user.id, token, outcome.value)
        if outcome is JoinOutcome.STRANGER_REMOVED:
            return reply(message.chat.id, catalog.text(language, "sandbox.course_passed_on"))
        return reply(message.chat.id, catalog.text(language, "sandbox.course_joined", title=terms.course_title))

    return r


async def _press(
    callback: CallbackQuery,
    catalog: MessageCatalog,
    gateway: SandboxPaymentGateway,
    confirm: ConfirmPayment,
    outbox_worker: Any,
    *,
    paid: bool,
) -> SendMessage:
    """Pay or Cancel on the sandbox's checkout: the payment moves as YooKassa's would, and the
    same use case as YooKassa's notification records it."""
    await callback.answer()
    language = language_of(callback.from_user)
    payment_id = (callback.data or "").removeprefix(PAY if paid else CANCEL)
    before = gateway.payment(payment_id)
    if before is None or before.status in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED):
        return _settled(callback.from_user.id, language, before, catalog)
    if paid:
        gateway.succeed(payment_id)
    else:
        gateway.cancel(payment_id)
    outcome = await confirm(payment_id)
    log.info(
        "sandbox payment %s %s by %s: %s",
        payment_id,
        "paid" if paid else "canceled",
        callback.from_user.id,
        outcome.value,
    )
    _wake(outbox_worker, outcome)
    if not paid:
        return reply(callback.from_user.id, catalog.text(language, "sandbox.canceled"))
    if outcome is PaymentOutcome.NOT_OURS:
        return reply(callback.from_user.id, catalog.text(language, "sandbox.unknown_payment"))
    return reply(callback.from_user.id, catalog.text(language, "sandbox.paid"))
