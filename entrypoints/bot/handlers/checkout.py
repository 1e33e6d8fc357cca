"""/buy and its button: ask for the email, then hand out a payment link (or the course)."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, User
from dishka.integrations.aiogram import FromDishka, inject

from application.errors import CustomerBlacklisted, CustomerNotRegistered
from application.ports.payment_gateway import PaymentGatewayRejected, PaymentGatewayUnavailable
from application.terms import ShopTerms
from application.texts import text
from application.use_cases.start_checkout import (
    AccessReissued,
    AlreadyInCourse,
    CheckoutCommand,
    CheckoutResult,
    PaymentJustConfirmed,
    PaymentLink,
    StartCheckout,
)
from domain.customer import Language
from domain.email import Email
from domain.errors import InvalidValue
from domain.ids import TelegramId
from entrypoints.bot.keyboards import MENU_BUY, link
from entrypoints.bot.replies import bot_link, language_of, say

log = logging.getLogger(__name__)


class CheckoutForm(StatesGroup):
    email = State()


async def _ask_email(bot: Bot, user: User, chat_id: int, state: FSMContext) -> None:
    await state.set_state(CheckoutForm.email)
    await say(bot, chat_id, text(language_of(user), "ask_email"))


async def _reply(bot: Bot, chat_id: int, language: Language, result: CheckoutResult, terms: ShopTerms, email: Email) -> None:
    price = terms.price.to_decimal_string()
    match result:
        case PaymentLink(confirmation_url=url, reused=reused):
            body = (
                text(language, "checkout_reused")
                if reused
                else text(language, "checkout", title=terms.course_title, price=price, email=email.value)
            )
            await say(bot, chat_id, body, link(text(language, "button.pay", price=price), url))
        case AlreadyInCourse():
            await say(bot, chat_id, text(language, "already_in_course"))
        case AccessReissued(invite_link=invite):
            await say(bot, chat_id, text(language, "access_reissued", link=invite), link(text(language, "button.join"), invite))
        case PaymentJustConfirmed():
            await say(bot, chat_id, text(language, "payment_confirmed"))


def router() -> Router:
    r = Router(name="checkout")

    @r.message(Command("buy"))
    async def buy_command(message: Message, bot: Bot, state: FSMContext) -> None:
        assert message.from_user is not None
        await _ask_email(bot, message.from_user, message.chat.id, state)

    @r.callback_query(F.data == MENU_BUY)
    async def buy_button(callback: CallbackQuery, bot: Bot, state: FSMContext) -> None:
        await callback.answer()
        await _ask_email(bot, callback.from_user, callback.from_user.id, state)

    @r.message(Command("cancel"))
    async def cancel(message: Message, bot: Bot, state: FSMContext) -> None:
        await state.clear()
        await say(bot, message.chat.id, text(language_of(message.from_user), "cancelled"))

    return r


def email_router() -> Router:
    """The answer to ``ask_email``: included after every command, so commands still work."""
    r = Router(name="checkout-email")

    @r.message(StateFilter(CheckoutForm.email), F.text, ~F.text.startswith("/"))
    @inject
    async def email_given(
        message: Message,
        bot: Bot,
        state: FSMContext,
        checkout: FromDishka[StartCheckout],
        terms: FromDishka[ShopTerms],
    ) -> None:
        user = message.from_user
        assert user is not None and message.text is not None
        language = language_of(user)
        try:
            email = Email.parse(message.text)
        except InvalidValue:
            await say(bot, message.chat.id, text(language, "bad_email"))
            return
        await state.clear()
        try:
            result = await checkout(CheckoutCommand(TelegramId(user.id), email, await bot_link(bot)))
        except CustomerBlacklisted:
            return
        except CustomerNotRegistered:
            await say(bot, message.chat.id, text(language, "not_registered"))
            return
        except (PaymentGatewayUnavailable, PaymentGatewayRejected) as exc:
            log.warning("checkout of %s failed at the payment provider: %s", user.id, exc)
            await say(bot, message.chat.id, text(language, "payment_unavailable"))
            return
        await _reply(bot, message.chat.id, language, result, terms, email)

    @r.message(StateFilter(CheckoutForm.email), ~F.text)
    async def not_text(message: Message, bot: Bot) -> None:
        await say(bot, message.chat.id, text(language_of(message.from_user), "bad_email"))

    return r
