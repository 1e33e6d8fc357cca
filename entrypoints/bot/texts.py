"""Texts only the bot needs: the command list shown in Telegram's menu."""

from __future__ import annotations

from domain.customer import Language

COMMANDS: dict[Language, tuple[tuple[str, str], ...]] = {
    Language.RU: (
        ("start", "Начать"),
        ("buy", "Купить курс"),
        ("ref", "Моя реферальная ссылка и баланс"),
        ("help", "Помощь"),
        ("cancel", "Отменить ввод"),
    ),
    Language.EN: (
        ("start", "Start"),
        ("buy", "Buy the course"),
        ("ref", "My referral link and balance"),
        ("help", "Help"),
        ("cancel", "Cancel the input"),
    ),
}
