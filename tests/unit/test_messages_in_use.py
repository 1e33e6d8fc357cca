"""Every message the code uses exists in every language, with exactly the placeholders the code
fills in; and every message in the catalog is used somewhere.

The code names a message in three ways, all checked here: literally, as
``catalog.text(language, "key", name=...)`` / ``catalog.plural(language, "key", n, name=...)``
(found by reading the source); as a notice kind (``application.notices``), rendered by
``adapters.catalog.notices``; and as a bot command's description (``command.<name>``)."""

from __future__ import annotations

import ast
import dataclasses
import typing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.catalog import MessageCatalog
from adapters.catalog.notices import _BUTTONS, notice_values
from application.notices import AccessGranted, Notice, notice_kinds
from domain.customer import Language
from domain.money import Money
from entrypoints.bot.dispatcher import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("domain", "application", "adapters", "entrypoints")
CATALOG = MessageCatalog.load()
EMAILED: tuple[type[Notice], ...] = (AccessGranted,)  # notices that also go out by email


@dataclass(frozen=True)
class Use:
    key: str
    values: frozenset[str] | None  # None: passed as **mapping, cannot be read statically
    plural: bool
    where: str


def _literal_uses() -> list[Use]:
    uses = []
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                if node.func.attr not in ("text", "plural") or len(node.args) < 2:
                    continue
                key = node.args[1]
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    continue
                names = [k.arg for k in node.keywords]
                values = None if None in names else frozenset(n for n in names if n is not None)
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                uses.append(Use(key.value, values, node.func.attr == "plural", where))
    return uses


LITERAL = _literal_uses()


def test_the_source_scan_finds_the_uses() -> None:
    assert len(LITERAL) > 30
    assert any(use.key == "welcome" for use in LITERAL)
    assert any(use.plural and use.key == "ref.invited" for use in LITERAL)


@pytest.mark.parametrize("use", LITERAL, ids=lambda use: f"{use.key}@{use.where}")
@pytest.mark.parametrize("language", list(Language))
def test_a_literal_use_names_a_message_with_exactly_its_placeholders(use: Use, language: Language) -> None:
    keys = CATALOG.plural_keys(language) if use.plural else CATALOG.keys(language) - CATALOG.plural_keys(language)
    assert use.key in keys, f"{use.where}: no {'plural ' if use.plural else ''}message {use.key!r} in {language}"
    if use.values is not None:
        wanted = CATALOG.placeholders(language, use.key) - ({"count"} if use.plural else set())
        assert use.values == wanted, f"{use.where}: fills {sorted(use.values)}, the message takes {sorted(wanted)}"


def _sample(cls: type[Notice]) -> Notice:
    samples = {"str": "x", "int": 1, "bool": True, "Money": Money(100), "datetime": datetime(2026, 1, 1, tzinfo=UTC)}
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: samples[getattr(hints[f.name], "__name__", "str")] for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("kind", sorted(notice_kinds()))
@pytest.mark.parametrize("language", list(Language))
def test_every_notice_renders_in_every_language_with_its_own_values(kind: str, language: Language) -> None:
    notice = _sample(notice_kinds()[kind])
    given = set(notice_values(notice))
    forms = [kind] + ([f"{kind}.email.subject", f"{kind}.email.text"] if type(notice) in EMAILED else [])
    for key in forms:
        assert key in CATALOG.keys(language), f"notice {kind}: no message {key!r} in {language}"
        assert CATALOG.placeholders(language, key) <= given, f"{key} needs values the notice does not carry"
    for caption, _field in _BUTTONS.get(kind, ()):
        assert caption in CATALOG.keys(language)


@pytest.mark.parametrize("language", list(Language))
def test_every_command_has_a_description(language: Language) -> None:
    for command in COMMANDS:
        assert CATALOG.placeholders(language, f"command.{command}") == frozenset()


def test_every_message_in_the_catalog_is_used() -> None:
    used = {use.key for use in LITERAL}
    used |= {f"command.{command}" for command in COMMANDS}
    for kind, cls in notice_kinds().items():
        used.add(kind)
        if cls in EMAILED:
            used |= {f"{kind}.email.subject", f"{kind}.email.text"}
        used |= {caption for caption, _ in _BUTTONS.get(kind, ())}
    unused = CATALOG.keys(Language.RU) - used
    assert not unused, f"messages nobody uses: {sorted(unused)}"
