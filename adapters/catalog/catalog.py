"""What aimpay says, read from gettext .po files: ``<directory>/<lang>/LC_MESSAGES/aimpay.po``.

Message ids are symbolic keys (``welcome``, ``button.buy``); the text is always the msgstr, in every
language. A plural message has the msgid ``<key>`` and the msgid_plural ``<key>.plural``. Texts are
``str.format`` templates (flagged ``python-brace-format``): values are inserted as they are.

Each file is parsed with Babel, compiled to an in-memory .mo and served by the standard library's
``gettext.GNUTranslations``, so the plural form is picked by the file's own ``Plural-Forms`` header.
Fuzzy and untranslated entries are left out: asking for one is a ``KeyError``, never the bare key.
"""

from __future__ import annotations

import gettext
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

from domain.customer import Language

DOMAIN = "aimpay"
PLURAL_SUFFIX = ".plural"
_LOCALES = Path(__file__).resolve().with_name("locales")
_PLURAL_PROBE = range(200)  # counts the Plural-Forms expression is checked against at load
_FIELD_NAME = re.compile(r"[.\[]")


class CatalogError(Exception):
    """A catalog file is missing or unusable; raised when the catalog is loaded."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Language:
    """One language's compiled messages and what is known about them."""

    translations: gettext.GNUTranslations
    singular: frozenset[str]
    plural: frozenset[str]
    placeholders: Mapping[str, frozenset[str]]


class MessageCatalog:
    """Every message in every ``Language``. Load it once per process and share it."""

    def __init__(self, languages: Mapping[Language, _Language]) -> None:
        self._languages = dict(languages)

    @classmethod
    def load(cls, directory: Path | None = None) -> MessageCatalog:
        """Reads ``<directory>/<lang>/LC_MESSAGES/aimpay.po`` for every ``Language`` (by default
        from the ``locales`` folder next to this module). Raises ``CatalogError`` when a file is
        missing or does not parse, when its Language header names another language, when its
        Plural-Forms expression picks a form that does not exist, or when a text is not a valid
        template with named fields."""
        root = _LOCALES if directory is None else directory
        return cls({lang: _load(root / lang.value / "LC_MESSAGES" / f"{DOMAIN}.po", lang) for lang in Language})

    def text(self, language: Language, key: str, /, **values: object) -> str:
        """The message ``key`` in ``language`` with ``values`` filled in."""
        messages = self._languages[language]
        if key not in messages.singular:
            if key in messages.plural:
                raise KeyError(f"{key!r} is a plural message in the {language.value!r} catalog: use plural()")
            raise KeyError(f"no message {key!r} in the {language.value!r} catalog")
        return _format(messages.translations.gettext(key), key, language, values)

    def plural(self, language: Language, key: str, count: int, /, **values: object) -> str:
        """The form of the plural message ``key`` for ``count`` in ``language``, with ``{count}``
        and ``values`` filled in."""
        messages = self._languages[language]
        if key not in messages.plural:
            if key in messages.singular:
                raise KeyError(f"{key!r} is not a plural message in the {language.value!r} catalog: use text()")
            raise KeyError(f"no plural message {key!r} in the {language.value!r} catalog")
        template = messages.translations.ngettext(key, key + PLURAL_SUFFIX, count)
        return _format(template, key, language, {"count": count, **values})

    def languages(self) -> frozenset[Language]:
        return frozenset(self._languages)

    def keys(self, language: Language) -> frozenset[str]:
        """Every message id in ``language``; for a plural message, its singular msgid."""
        messages = self._languages[language]
        return messages.singular | messages.plural

    def plural_keys(self, language: Language) -> frozenset[str]:
        return self._languages[language].plural

    def placeholders(self, language: Language, key: str) -> frozenset[str]:
        """The names of the ``{fields}`` of ``key`` in ``language`` (of all its forms, if plural)."""
        try:
            return self._languages[language].placeholders[key]
        except KeyError:
            raise KeyError(f"no message {key!r} in the {language.value!r} catalog") from None


def _format(template: str, key: str, language: Language, values: Mapping[str, object]) -> str:
    try:
        return template.format(**values)
    except KeyError as exc:
        raise KeyError(f"message {key!r} ({language.value}) needs a value for {{{exc.args[0]}}}") from None


def _load(path: Path, language: Language) -> _Language:
    if not path.is_file():
        raise CatalogError(path, f"no message catalog for language {language.value!r}")
    try:
        with path.open("rb") as file:
            catalog = read_po(file, domain=DOMAIN, abort_invalid=True)
    except (OSError, PoFileError, UnicodeError, ValueError) as exc:
        raise CatalogError(path, f"cannot be read as a .po file: {exc}") from exc
    if catalog.locale is None or catalog.locale.language != language.value:
        raise CatalogError(path, f"its Language header is {catalog.locale_identifier!r}, not {language.value!r}")

    singular: set[str] = set()
    plural: set[str] = set()
    placeholders: dict[str, frozenset[str]] = {}
    for message in catalog:
        if not message.id or message.context or message.fuzzy:
            continue  # the header; contexts are not used; fuzzy entries are not trusted
        forms = _forms(message.string)
        if not all(forms):
            continue  # untranslated; a plural missing a form would fall back to its bare msgid_plural
        if isinstance(message.id, str):
            key = message.id
            singular.add(key)
        else:  # (msgid, msgid_plural)
            key = message.id[0]
            plural.add(key)
        try:
            placeholders[key] = frozenset(_fields(forms))
        except ValueError as exc:
            raise CatalogError(path, f"message {key!r}: {exc}") from exc

    return _Language(_compile(path, catalog), frozenset(singular), frozenset(plural), placeholders)


def _forms(string: str | Iterable[str] | None) -> tuple[str, ...]:
    if string is None:
        return ("",)
    return (string,) if isinstance(string, str) else tuple(string)


def _fields(templates: Iterable[str]) -> set[str]:
    """The names of the ``str.format`` fields of ``templates``; positional fields are refused."""
    names: set[str] = set()
    for template in templates:
        for _, field, spec, _ in string.Formatter().parse(template):
            if field is None:
                continue
            name = _FIELD_NAME.split(field, maxsplit=1)[0]
            if not name or name.isdigit():
                raise ValueError(f"positional placeholder {{{field}}} in {template!r}; name it")
            names.add(name)
            if spec and "{" in spec:
                names |= _fields((spec,))
    return names


def _compile(path: Path, catalog: Catalog) -> gettext.GNUTranslations:
    try:
        choose = gettext.c2py(catalog.plural_expr)
        wrong = next((n for n in _PLURAL_PROBE if not 0 <= choose(n) < catalog.num_plurals), None)
        if wrong is not None:
            raise ValueError(f"it picks form {choose(wrong)} for n={wrong}, but nplurals={catalog.num_plurals}")
        mo = BytesIO()
        write_mo(mo, catalog)  # leaves out fuzzy and untranslated entries
        mo.seek(0)
        return gettext.GNUTranslations(mo)
    except (OSError, ValueError) as exc:
        raise CatalogError(path, f"bad Plural-Forms or catalog: {exc}") from exc
