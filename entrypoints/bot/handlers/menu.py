"""/start, /help, /ref and the menu buttons."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message, User
from dishka.integrations.aiogram import FromDishka, inject

from adapters.catalog import MessageCatalog
from application.errors import CustomerBlacklisted, CustomerNotRegistered
from application.terms import ShopTerms
from application.use_cases.referral_summary import GetReferralSummary
from application.use_cases.register_customer import RegisterCommand, RegisterCustomer
from domain.ids import TelegramId
from entrypoints.bot.filters import ButtonData
from entrypoints.bot.keyboards import MENU_HELP, MENU_REF, menu
from entrypoints.bot.replies import bot_link, language_of, reply


def _help(user: User, chat_id: int, terms: ShopTerms, catalog: MessageCatalog) -> SendMessage:
    language = language_of(user)
    body = catalog.text(language, "help", title=terms.course_title, percent=str(terms.referral_rate))
    return reply(chat_id, body, menu(catalog, language))


async def _referral(
    bot: Bot, user: User, chat_id: int, summary_of: GetReferralSummary, catalog: MessageCatalog
) -> SendMessage | None:
    language = language_of(user)
    try:
        summary = await summary_of(TelegramId(user.id))
    except CustomerNotRegistered:
        return reply(chat_id, catalog.text(language, "not_registered"))
    except CustomerBlacklisted:
        return None
    body = catalog.text(
        language,
        "ref_summary",
        link=f"{await bot_link(bot)}?start={summary.code}",
        invited=catalog.plural(language, "ref.invited", summary.invited),
        paid=catalog.plural(language, "ref.paid", summary.paid),
        balance=summary.balance.to_decimal_string(),
        percent=str(summary.rate),
    )
    return reply(chat_id, body)


def router() -> Router:
    r = Router(name="menu")

    @r.message(CommandStart())
    @inject
    async def start(
        message: Message,
        command: CommandObject,
        bot: Bot,
        state: FSMContext,
        catalog: MessageCatalog,
        register: FromDishka[RegisterCustomer],
        terms: FromDishka[ShopTerms],
    ) -> SendMessage | None:
        user = message.from_user
        assert user is not None  # private chats only
        await state.clear()
        try:
            await register(
                RegisterCommand(
                    telegram_id=TelegramId(user.id),
                    username=user.username,
                    first_name=user.first_name,
                    language_code=user.language_code,
                    referral_code=command.args,  # the payload is the referral code; bad ones are ignored
                )
            )
        except CustomerBlacklisted:
            return None
        language = language_of(user)
        body = catalog.text(
            language, "welcome", name=user.first_name, title=terms.course_title, price=terms.price.to_decimal_string()
        )
        return reply(message.chat.id, body, menu(catalog, language))

    @r.message(Command("help"))
    @inject
    async def help_command(message: Message, catalog: MessageCatalog, terms: FromDishka[ShopTerms]) -> SendMessage:
        assert message.from_user is not None
        return _help(message.from_user, message.chat.id, terms, catalog)

    @r.callback_query(ButtonData(MENU_HELP))
    @inject
    async def help_button(
        callback: CallbackQuery, catalog: MessageCatalog, terms: FromDishka[ShopTerms]
    ) -> SendMessage:
        await callback.answer()
        return _help(callback.from_user, callback.from_user.id, terms, catalog)

    @r.message(Command("ref"))
    @inject
    async def ref_command(
        message: Message, bot: Bot, catalog: MessageCatalog, summary_of: FromDishka[GetReferralSummary]
    ) -> SendMessage | None:
        assert message.from_user is not None
        return await _referral(bot, message.from_user, message.chat.id, summary_of, catalog)

    @r.callback_query(ButtonData(MENU_REF))
    @inject
    async def ref_button(
        callback: CallbackQuery, bot: Bot, catalog: MessageCatalog, summary_of: FromDishka[GetReferralSummary]
    ) -> SendMessage | None:
        await callback.answer()
        return await _referral(bot, callback.from_user, callback.from_user.id, summary_of, catalog)

    return r
