"""Rendering a notice into words: the message catalog's job, behind this port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from application.notices import Notice
from application.ports.messaging import LinkButton
from domain.customer import Language


@dataclass(frozen=True, slots=True)
class TelegramText:
    text: str
    buttons: tuple[LinkButton, ...] = ()


@dataclass(frozen=True, slots=True)
class EmailContent:
    subject: str
    text: str
    html: str


class NoticeRenderer(Protocol):
    def telegram(self, notice: Notice, language: Language) -> TelegramText:
        """The notice as a plain-text Telegram message, with its buttons."""
        ...

    def email(self, notice: Notice, language: Language) -> EmailContent:
        """The notice as an email; ``KeyError`` when the notice has no email form."""
        ...
