"""The bot's keyboards."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.catalog import MessageCatalog
from domain.customer import Language

MENU_BUY = "menu:buy"
MENU_REF = "menu:ref"
MENU_HELP = "menu:help"


_MENUS: dict[tuple[int, Language], InlineKeyboardMarkup] = {}


def menu(catalog: MessageCatalog, language: Language) -> InlineKeyboardMarkup:
    """Buy / my referral link / help, as callback buttons under the message (built once per
    catalog and language: every /start shows it)."""
    key = (id(catalog), language)
    built = _MENUS.get(key)
    if built is None:
        built = _MENUS[key] = _menu(catalog, language)
    return built


def _menu(catalog: MessageCatalog, language: Language) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=catalog.text(language, "button.buy"), callback_data=MENU_BUY)],
            [InlineKeyboardButton(text=catalog.text(language, "button.ref"), callback_data=MENU_REF)],
            [InlineKeyboardButton(text=catalog.text(language, "button.help"), callback_data=MENU_HELP)],
        ]
    )


def link(caption: str, url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=caption, url=url)]])
