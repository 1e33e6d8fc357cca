"""/buy and its button: ask for the email, then hand out a payment link (or the course)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message, User
from dishka.integrations.aiogram import FromDishka, inject

from adapters.catalog import MessageCatalog
from application.errors import CustomerBlacklisted, CustomerNotRegistered
from application.terms import ShopTerms
from application.use_cases.start_checkout import (
    AccessReissued,
    AccessReissueFailed,
    AlreadyInCourse,
    CheckoutCommand,
    CheckoutResult,
    EmailNeeded,
    PaymentJustConfirmed,
    PaymentLink,
    PaymentOnHold,
    PaymentServiceUnavailable,
    StartCheckout,
)
from domain.customer import Language
from domain.email import Email
from domain.errors import InvalidValue
from domain.ids import TelegramId
from entrypoints.bot.filters import ButtonData, NotText, PlainText
from entrypoints.bot.keyboards import MENU_BUY, link
from entrypoints.bot.replies import bot_link, language_of, reply


class CheckoutForm(StatesGroup):
    email = State()


async def _checkout(
    bot: Bot,
    user: User,
    chat_id: int,
    state: FSMContext,
    checkout: StartCheckout,
    terms: ShopTerms,
    catalog: MessageCatalog,
    email: Email | None,
) -> SendMessage | None:
    """Runs the checkout and answers; without an email it first finds out whether one is
    needed (a customer who paid or has an open payment is not asked)."""
    language = language_of(user)
    try:
        result = await checkout(CheckoutCommand(TelegramId(user.id), email, await bot_link(bot)))
    except CustomerBlacklisted:
        return None
    except CustomerNotRegistered:
        return reply(chat_id, catalog.text(language, "not_registered"))
        return None
    if isinstance(result, EmailNeeded):
        await state.set_state(CheckoutForm.email)
        return reply(chat_id, catalog.text(language, "ask_email"))
        return None
    await state.clear()
    return _reply(chat_id, language, result, terms, catalog)


def _reply(
    chat_id: int, language: Language, result: CheckoutResult, terms: ShopTerms, catalog: MessageCatalog
) -> SendMessage | None:
    price = terms.price.to_decimal_string()
    match result:
        case PaymentLink(confirmation_url=url, reused=reused, email=email):
            body = (
                catalog.text(language, "checkout_reused", email=email)
                if reused
                else catalog.text(language, "checkout", title=terms.course_title, price=price, email=email)
            )
            return reply(chat_id, body, link(catalog.text(language, "button.pay", price=price), url))
        case AlreadyInCourse():
            return reply(chat_id, catalog.text(language, "already_in_course"))
        case AccessReissued(invite_link=invite):
            return reply(
                chat_id,
                catalog.text(language, "access_reissued", link=invite),
                link(catalog.text(language, "button.join"), invite),
            )
        case AccessReissueFailed():
            return reply(chat_id, catalog.text(language, "access_reissue_failed"))
        case PaymentJustConfirmed():
            return reply(chat_id, catalog.text(language, "payment_confirmed"))
        case PaymentOnHold():
            return reply(chat_id, catalog.text(language, "payment_on_hold"))
        case PaymentServiceUnavailable():
            return reply(chat_id, catalog.text(language, "payment_unavailable"))
        case EmailNeeded():  # pragma: no cover - answered by _checkout
            return None


def router() -> Router:
    r = Router(name="checkout")

    @r.message(Command("buy"))
    @inject
    async def buy_command(
        message: Message,
        bot: Bot,
        state: FSMContext,
        catalog: MessageCatalog,
        checkout: FromDishka[StartCheckout],
        terms: FromDishka[ShopTerms],
    ) -> SendMessage | None:
        assert message.from_user is not None
        return await _checkout(bot, message.from_user, message.chat.id, state, checkout, terms, catalog, None)

    @r.callback_query(ButtonData(MENU_BUY))
    @inject
    async def buy_button(
        callback: CallbackQuery,
        bot: Bot,
        state: FSMContext,
        catalog: MessageCatalog,
        checkout: FromDishka[StartCheckout],
        terms: FromDishka[ShopTerms],
    ) -> SendMessage | None:
        await callback.answer()
        return await _checkout(bot, callback.from_user, callback.from_user.id, state, checkout, terms, catalog, None)

    @r.message(Command("cancel"))
    async def cancel(message: Message, bot: Bot, state: FSMContext, catalog: MessageCatalog) -> SendMessage | None:
        await state.clear()
        return reply(message.chat.id, catalog.text(language_of(message.from_user), "cancelled"))

    return r


def email_router() -> Router:
    """The answer to ``ask_email``: included after every command, so commands still work."""
    r = Router(name="checkout-email")

    @r.message(StateFilter(CheckoutForm.email), PlainText())
    @inject
    async def email_given(
        message: Message,
        bot: Bot,
        state: FSMContext,
        catalog: MessageCatalog,
        checkout: FromDishka[StartCheckout],
        terms: FromDishka[ShopTerms],
    ) -> SendMessage | None:
        user = message.from_user
        assert user is not None and message.text is not None
        try:
            email = Email.parse(message.text)
        except InvalidValue:
            return reply(message.chat.id, catalog.text(language_of(user), "bad_email"))
            return None
        await state.clear()
        return await _checkout(bot, user, message.chat.id, state, checkout, terms, catalog, email)

    @r.message(StateFilter(CheckoutForm.email), NotText())
    async def not_text(message: Message, bot: Bot, catalog: MessageCatalog) -> SendMessage | None:
        return reply(message.chat.id, catalog.text(language_of(message.from_user), "bad_email"))

    return r
