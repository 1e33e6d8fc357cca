"""Rendering typed notices (``application.notices``) from the message catalog.

A notice of kind ``K`` is the catalog's message ``K`` as a Telegram text, and ``K.email.subject``
plus ``K.email.text`` as an email (its HTML made from the text by ``as_html``). Values are
filled in as people read them: money as ``4990.00`` (and ``<name>_currency`` beside every money
field, e.g. ``RUB``), times as ``YYYY-MM-DD HH:MM`` in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.catalog.catalog import MessageCatalog
from adapters.catalog.html import as_html
from application.notices import AccessGranted, Notice
from application.ports.messaging import LinkButton
from application.ports.rendering import EmailContent, NoticeRenderer, TelegramText
from domain.customer import Language
from domain.money import Money

# The URL buttons a notice's Telegram message carries: (catalog key of the caption, the field
# holding the URL).
_BUTTONS: dict[str, tuple[tuple[str, str], ...]] = {
    AccessGranted.KIND: (("button.join", "link"),),
}


def notice_values(notice: Notice) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, value in notice.values().items():
        if isinstance(value, Money):
            values[name] = value.to_decimal_string()
            values[f"{name}_currency"] = value.currency.code
        elif isinstance(value, datetime):
            values[name] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        else:
            values[name] = value
    return values


class CatalogNoticeRenderer(NoticeRenderer):
    def __init__(self, catalog: MessageCatalog) -> None:
        self._catalog = catalog

    def telegram(self, notice: Notice, language: Language) -> TelegramText:
        values = notice_values(notice)
        buttons = tuple(
            LinkButton(self._catalog.text(language, caption), str(values[field]))
            for caption, field in _BUTTONS.get(notice.KIND, ())
        )
        return TelegramText(self._catalog.text(language, notice.KIND, **values), buttons)

    def email(self, notice: Notice, language: Language) -> EmailContent:
        values = notice_values(notice)
        text = self._catalog.text(language, f"{notice.KIND}.email.text", **values)
        return EmailContent(
            subject=self._catalog.text(language, f"{notice.KIND}.email.subject", **values),
            text=text,
            html=as_html(text),
        )
