import re

import pytest

from application.texts import _TEXTS, as_html, keys, text
from domain.customer import Language


def test_every_key_has_every_language() -> None:
    assert keys()
    for key in keys():
        assert set(_TEXTS[key]) == set(Language), key
        for language in Language:
            assert _TEXTS[key][language].strip(), (key, language)


@pytest.mark.parametrize("key", sorted(keys()))
def test_languages_take_the_same_placeholders(key: str) -> None:
    fields = {lang: set(re.findall(r"{(\w+)}", _TEXTS[key][lang])) for lang in Language}
    assert fields[Language.RU] == fields[Language.EN], key
    values = {name: f"<{name}>" for name in fields[Language.RU]}
    for lang in Language:
        rendered = text(lang, key, **values)
        assert "{" not in rendered
        assert all(v in rendered for v in values.values())


def test_text_fills_values_as_they_are() -> None:
    assert text(Language.EN, "ban.done", id=42) == "User 42 is banned."
    assert text(Language.RU, "ban.done", id=42) == "Пользователь 42 заблокирован."
    assert text(Language.EN, "button.pay", price="4990.00") == "Pay 4990.00 RUB"
    assert text(Language.EN, "ban.done", id="{x} <b>") == "User {x} <b> is banned."


def test_text_needs_its_values() -> None:
    with pytest.raises(KeyError):
        text(Language.EN, "ban.done")


def test_unknown_key() -> None:
    with pytest.raises(KeyError):
        text(Language.RU, "no.such.key")


def test_as_html_escapes_and_keeps_paragraphs_and_links() -> None:
    html = as_html("Hi <script>alert('x')</script> & you\nline two\n\nlink: https://t.me/+abc?x=1&y=2 end")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "&amp; you" in html and "&#x27;x&#x27;" in html
    assert html.startswith("<p>") and html.count("<p>") == 2
    assert "you<br>line two" in html
    assert '<a href="https://t.me/+abc?x=1&amp;y=2">https://t.me/+abc?x=1&amp;y=2</a> end' in html


def test_as_html_of_plain_text() -> None:
    assert as_html("Hello") == "<p>Hello</p>"
