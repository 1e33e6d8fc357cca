import shutil
import string
import time
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

import adapters.catalog
from adapters.catalog import CatalogError, MessageCatalog, as_html
from domain.customer import Language

LOCALES = Path(adapters.catalog.__file__).parent / "locales"
FIXTURE = Path(__file__).parent / "plural_fixture"
RU, EN = Language.RU, Language.EN

PLURALS = {"ref.invited", "ref.paid"}
PLURAL_FORMS = {
    RU: "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    EN: "nplurals=2; plural=(n != 1);",
}


@pytest.fixture(scope="module")
def catalog() -> MessageCatalog:
    return MessageCatalog.load()


def po_path(language: Language, root: Path = LOCALES) -> Path:
    return root / language.value / "LC_MESSAGES" / "aimpay.po"


def read(language: Language, root: Path = LOCALES) -> Catalog:
    with po_path(language, root).open("rb") as file:
        return read_po(file, abort_invalid=True)


def messages(language: Language) -> dict[str, Message]:
    return {m.id if isinstance(m.id, str) else m.id[0]: m for m in read(language) if m.id}


def forms(message: Message) -> tuple[str, ...]:
    assert message.string is not None
    return (message.string,) if isinstance(message.string, str) else tuple(message.string)


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def sample(names: frozenset[str] | set[str]) -> dict[str, str]:
    return {name: f"<{name}>" for name in names}


def copy_locales(tmp_path: Path) -> Path:
    return Path(shutil.copytree(LOCALES, tmp_path / "locales"))


# --- the files ------------------------------------------------------------------------------------


def test_every_language_is_loaded(catalog: MessageCatalog) -> None:
    assert catalog.languages() == frozenset(Language)


@pytest.mark.parametrize("language", list(Language))
def test_every_language_has_the_same_keys_and_plurals(catalog: MessageCatalog, language: Language) -> None:
    assert catalog.keys(language) == catalog.keys(RU)
    assert catalog.plural_keys(language) == PLURALS


@pytest.mark.parametrize("key", sorted(MessageCatalog.load().keys(RU)))
def test_languages_and_plural_forms_take_the_same_placeholders(catalog: MessageCatalog, key: str) -> None:
    per_form = {lang: [fields(form) for form in forms(messages(lang)[key])] for lang in Language}
    every = [f for lang in Language for f in per_form[lang]]
    assert all(f == every[0] for f in every), per_form
    assert catalog.placeholders(RU, key) == catalog.placeholders(EN, key) == every[0]


@pytest.mark.parametrize("language", list(Language))
def test_babel_finds_no_error_and_nothing_is_fuzzy_or_obsolete(language: Language) -> None:
    po = read(language)
    assert [(m.id, errors) for m, errors in po.check()] == []
    assert not po.fuzzy
    assert [m.id for m in po if m.fuzzy] == []
    assert not po.obsolete
    assert all(all(forms(m)) for m in po if m.id), "untranslated entries"


@pytest.mark.parametrize("language", list(Language))
def test_headers(language: Language) -> None:
    po = read(language)
    headers = dict(po.mime_headers)
    assert po.locale_identifier == language.value
    assert headers["Content-Type"].lower() == "text/plain; charset=utf-8"
    assert po.plural_forms == PLURAL_FORMS[language]  # as the file spells it
    assert po.num_plurals == (3 if language is RU else 2)


def raw_flags(language: Language) -> dict[str, set[str]]:
    """The ``#,`` flags of every entry, read from the file itself: Babel's reader drops
    ``python-brace-format`` whenever the msgid has no braces, which symbolic ids never have."""
    flags: dict[str, set[str]] = {}
    for block in po_path(language).read_text(encoding="utf-8").split("\n\n"):
        lines = block.splitlines()
        msgid = next((line for line in lines if line.startswith("msgid ")), None)
        if msgid is not None and msgid != 'msgid ""':
            found = (f.strip() for line in lines if line.startswith("#,") for f in line[2:].split(","))
            flags[msgid[len('msgid "') : -1]] = set(found)
    return flags


@pytest.mark.parametrize("language", list(Language))
def test_placeholders_are_flagged_and_explained(catalog: MessageCatalog, language: Language) -> None:
    flags = raw_flags(language)
    assert set(flags) == catalog.keys(language)
    for key, message in messages(language).items():
        names = catalog.placeholders(language, key)
        # `pybabel update` (make messages) drops these flags and replaces these comments: see the Makefile.
        assert flags[key] == ({"python-brace-format"} if names else set()), key
        notes = "\n".join(message.auto_comments)
        assert notes, key
        assert all(f"{{{name}}}" in notes for name in names), (key, names, notes)


@pytest.mark.parametrize("language", list(Language))
def test_plural_entries_use_symbolic_ids(language: Language) -> None:
    for key in PLURALS:
        assert messages(language)[key].id == (key, f"{key}.plural")


def test_referral_summary_reads_the_plural_phrases(catalog: MessageCatalog) -> None:
    def summary(language: Language, invited: int, paid: int) -> str:
        return catalog.text(
            language,
            "ref_summary",
            link="https://t.me/bot?start=abc",
            invited=catalog.plural(language, "ref.invited", invited),
            paid=catalog.plural(language, "ref.paid", paid),
            balance="499.00",
            percent="10%",
        )

    assert summary(RU, 21, 1) == (
        "Ваша реферальная ссылка:\nhttps://t.me/bot?start=abc\n\nПо ней пришли: 21 приглашённый, из них 1 оплатил.\n"
        "Баланс: 499.00 ₽\n\nВы получаете 10% от каждой оплаты приглашённых."
    )
    assert summary(EN, 3, 2) == (
        "Your referral link:\nhttps://t.me/bot?start=abc\n\nBy it: 3 people invited, of whom 2 paid.\n"
        "Balance: 499.00 RUB\n\nYou earn 10% of every payment of the people you invite."
    )
    assert catalog.placeholders(RU, "ref_summary") == {"link", "invited", "paid", "balance", "percent"}


# --- plurals --------------------------------------------------------------------------------------

ONE, FEW, MANY = 0, 1, 2
RUSSIAN_FORM = {0: MANY, 1: ONE, 2: FEW, 4: FEW, 5: MANY, 11: MANY, 12: MANY, 14: MANY, 21: ONE, 22: FEW, 25: MANY}
RUSSIAN_FORM |= {101: ONE, 111: MANY, 102: FEW, 112: MANY, 1000: MANY, 1001: ONE}


@pytest.mark.parametrize(("n", "form"), sorted(RUSSIAN_FORM.items()))
def test_russian_referral_counts(catalog: MessageCatalog, n: int, form: int) -> None:
    invited = ("приглашённый", "приглашённых", "приглашённых")[form]
    paid = ("оплатил", "оплатили", "оплатили")[form]
    assert catalog.plural(RU, "ref.invited", n) == f"{n} {invited}"
    assert catalog.plural(RU, "ref.paid", n) == f"{n} {paid}"


@pytest.mark.parametrize(("n", "form"), sorted(RUSSIAN_FORM.items()))
def test_russian_plural_forms_picks_the_right_one_of_three(n: int, form: int) -> None:
    fixture = MessageCatalog.load(FIXTURE)
    expected = ("one: {n} яблоко у Ани", "few: {n} яблока у Ани", "many: {n} яблок у Ани")[form]
    assert fixture.plural(RU, "apples", n, name="Ани") == expected.format(n=n)


@pytest.mark.parametrize("language", list(Language))
def test_the_fixture_uses_the_real_plural_rule(language: Language) -> None:
    assert read(language, FIXTURE).plural_forms == read(language).plural_forms


@pytest.mark.parametrize("n", [0, 1, 2, 5, 11, 21, 101])
def test_english_has_two_forms(catalog: MessageCatalog, n: int) -> None:
    people = "person" if n == 1 else "people"
    assert catalog.plural(EN, "ref.invited", n) == f"{n} {people} invited"
    assert catalog.plural(EN, "ref.paid", n) == f"{n} paid"
    fixture = MessageCatalog.load(FIXTURE)
    expected = f"one: {n} apple for Ann" if n == 1 else f"other: {n} apples for Ann"
    assert fixture.plural(EN, "apples", n, name="Ann") == expected


def test_placeholders_of_a_plural_cover_all_forms() -> None:
    fixture = MessageCatalog.load(FIXTURE)
    assert fixture.placeholders(RU, "apples") == {"count", "name"}
    assert fixture.keys(RU) == {"greeting", "apples"}
    assert fixture.plural_keys(RU) == {"apples"}


# --- errors ---------------------------------------------------------------------------------------


def test_a_missing_key_is_an_error_naming_it(catalog: MessageCatalog) -> None:
    with pytest.raises(KeyError, match=r"no\.such\.key.*'ru'"):
        catalog.text(RU, "no.such.key")
    with pytest.raises(KeyError, match=r"no\.such\.key.*'en'"):
        catalog.plural(EN, "no.such.key", 2)
    with pytest.raises(KeyError, match=r"no\.such\.key"):
        catalog.placeholders(RU, "no.such.key")


def test_singular_and_plural_are_not_mixed_up(catalog: MessageCatalog) -> None:
    with pytest.raises(KeyError, match=r"ref\.invited.*plural\(\)"):
        catalog.text(RU, "ref.invited")
    with pytest.raises(KeyError, match=r"welcome.*text\(\)"):
        catalog.plural(RU, "welcome", 2)


def test_a_missing_value_is_an_error_naming_it(catalog: MessageCatalog) -> None:
    with pytest.raises(KeyError, match=r"ban\.done.*\{id\}"):
        catalog.text(EN, "ban.done")
    fixture = MessageCatalog.load(FIXTURE)
    with pytest.raises(KeyError, match=r"\{name\}"):
        fixture.plural(RU, "apples", 3)


def test_values_are_inserted_as_they_are(catalog: MessageCatalog) -> None:
    assert catalog.text(EN, "ban.done", id="{x} <b>") == "User {x} <b> is banned."
    assert catalog.text(RU, "button.pay", price="4990.00") == "Оплатить 4990.00 ₽"


def test_a_broken_po_file_is_named(tmp_path: Path) -> None:
    root = copy_locales(tmp_path)
    broken = po_path(EN, root)
    broken.write_text(broken.read_text(encoding="utf-8") + "\nthis is not a po line\n", encoding="utf-8")
    with pytest.raises(CatalogError) as error:
        MessageCatalog.load(root)
    assert error.value.path == broken
    assert str(broken) in str(error.value)


def test_a_missing_language_is_named(tmp_path: Path) -> None:
    root = copy_locales(tmp_path)
    shutil.rmtree(root / "en")
    with pytest.raises(CatalogError, match="'en'") as error:
        MessageCatalog.load(root)
    assert error.value.path == po_path(EN, root)


def test_a_file_of_another_language_is_refused(tmp_path: Path) -> None:
    root = copy_locales(tmp_path)
    shutil.copy(po_path(RU, root), po_path(EN, root))
    with pytest.raises(CatalogError, match="Language header"):
        MessageCatalog.load(root)


def test_too_many_plural_forms_are_refused(tmp_path: Path) -> None:
    root = copy_locales(tmp_path)
    path = po_path(EN, root)
    raw = path.read_text(encoding="utf-8")
    path.write_text(
        raw.replace('msgstr[1] "{count} paid"', 'msgstr[1] "{count} paid"\nmsgstr[2] "x"'), encoding="utf-8"
    )
    with pytest.raises(CatalogError, match="num_plurals"):
        MessageCatalog.load(root)


def test_a_plural_rule_that_picks_a_missing_form_is_refused(tmp_path: Path) -> None:
    root = copy_locales(tmp_path)
    path = po_path(EN, root)
    path.write_text(path.read_text(encoding="utf-8").replace("plural=(n != 1)", "plural=n"), encoding="utf-8")
    with pytest.raises(CatalogError, match="Plural-Forms"):
        MessageCatalog.load(root)


def test_a_bad_template_is_refused(tmp_path: Path) -> None:
    root = copy_locales(tmp_path)
    path = po_path(EN, root)
    path.write_text(path.read_text(encoding="utf-8").replace('"Cancelled."', '"Cancelled {}."'), encoding="utf-8")
    with pytest.raises(CatalogError, match="cancelled"):
        MessageCatalog.load(root)


def test_fuzzy_and_untranslated_entries_are_not_used(tmp_path: Path) -> None:
    root = copy_locales(tmp_path)
    path = po_path(EN, root)
    raw = path.read_text(encoding="utf-8")
    raw = raw.replace('msgid "cancelled"', '#, fuzzy\nmsgid "cancelled"')
    raw = raw.replace('msgstr "Press /start first."', 'msgstr ""')
    raw = raw.replace('msgstr[1] "{count} paid"', 'msgstr[1] ""')
    path.write_text(raw, encoding="utf-8")
    ru = po_path(RU, root)
    ru.write_text(ru.read_text(encoding="utf-8").replace('msgstr[2] "{count} оплатили"\n', ""), encoding="utf-8")
    loaded = MessageCatalog.load(root)
    assert {"cancelled", "not_registered", "ref.paid"}.isdisjoint(loaded.keys(EN))
    assert "ref.paid" not in loaded.plural_keys(RU)
    for key in ("cancelled", "not_registered"):
        with pytest.raises(KeyError, match=key):
            loaded.text(EN, key)
    with pytest.raises(KeyError, match=r"ref\.paid"):
        loaded.plural(EN, "ref.paid", 2)
    assert loaded.text(RU, "cancelled") == "Отменено."


def test_loading_is_cheap() -> None:
    MessageCatalog.load()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        MessageCatalog.load()
        best = min(best, time.perf_counter() - started)
    assert best < 0.05


# --- email HTML -----------------------------------------------------------------------------------


def test_as_html_escapes_and_keeps_paragraphs_and_links() -> None:
    html = as_html("Hi <script>alert('x')</script> & you\nline two\n\nlink: https://t.me/+abc?x=1&y=2 end")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "&amp; you" in html and "&#x27;x&#x27;" in html
    assert html.startswith("<p>") and html.count("<p>") == 2
    assert "you<br>line two" in html
    assert '<a href="https://t.me/+abc?x=1&amp;y=2">https://t.me/+abc?x=1&amp;y=2</a> end' in html


def test_as_html_of_plain_text() -> None:
    assert as_html("Hello") == "<p>Hello</p>"


def test_as_html_of_the_access_email(catalog: MessageCatalog) -> None:
    body = catalog.text(
        RU, "access.granted.email.text", title="<Курс>", link="https://t.me/+abc", expires="2026-01-01 10:00"
    )
    html = as_html(body)
    assert html.count("<p>") == 3
    assert "&lt;Курс&gt;" in html and '<a href="https://t.me/+abc">' in html
