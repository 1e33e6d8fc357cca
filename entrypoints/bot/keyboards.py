"""The bot's keyboards."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from application.texts import text
from domain.customer import Language

MENU_BUY = "menu:buy"
MENU_REF = "menu:ref"
MENU_HELP = "menu:help"


def menu(language: Language) -> InlineKeyboardMarkup:
    """Buy / my referral link / help, as callback buttons under the message."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text(language, "button.buy"), callback_data=MENU_BUY)],
            [InlineKeyboardButton(text=text(language, "button.ref"), callback_data=MENU_REF)],
            [InlineKeyboardButton(text=text(language, "button.help"), callback_data=MENU_HELP)],
        ]
    )


def link(caption: str, url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=caption, url=url)]])
