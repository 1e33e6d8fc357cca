"""The hand-written migrations build exactly the schema of ``adapters/sql/tables.py``.

Two real databases of the same kind are compared, one built by the migrations and one by
``metadata.create_all``, through ``tests/integration/sql/schema.py``: columns, keys, unique and
CHECK constraints with their SQL text, indexes with their partial conditions. A new enum value in
``tables.py`` without a migration changes a CHECK constraint's text and fails here, not in
production. The drift tests prove the comparison sees such changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from adapters.sql.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade, upgrade_to_head
from adapters.sql.tables import metadata
from domain.outbox import OutboxKind
from tests.integration.sql.conftest import blank_engine
from tests.integration.sql.schema import (
    ColumnShape,
    Difference,
    IndexShape,
    Schema,
    compare,
    explain,
    normalise_sql,
    reflect,
)


def _differences(connection: Connection) -> list[Any]:
    """Alembic's autogenerate view: what ``alembic revision --autogenerate`` would still write."""
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, metadata))


def _kind(engine: AsyncEngine) -> str:
    return "sqlite" if engine.dialect.name == "sqlite" else "postgres"


async def _schema_of(source: sa.MetaData, kind: str, directory: Path) -> Schema:
    """The schema of a fresh database of ``kind`` built by ``source.create_all``."""
    async with blank_engine(kind, directory) as engine:
        async with engine.begin() as connection:
            await connection.run_sync(source.create_all)
        return await reflect(engine)


async def _migrated_and_created(blank: AsyncEngine, source: sa.MetaData, directory: Path) -> list[Difference]:
    await upgrade(blank)
    return compare(await reflect(blank), await _schema_of(source, _kind(blank), directory))


async def test_upgrade_builds_exactly_the_metadata(blank: AsyncEngine, tmp_path: Path) -> None:
    assert await current_revision(blank) is None
    differences = await _migrated_and_created(blank, metadata, tmp_path / "metadata")
    assert differences == [], explain(differences, "migrations", "tables.py")
    assert await current_revision(blank) == head_revision()
    async with blank.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_the_database_keeps_the_metadata_check_texts_and_index_conditions(engine: AsyncEngine) -> None:
    """Not an empty comparison: every table, CHECK text and partial condition of ``tables.py``
    is in the migrated database, and the normalised texts read back equal the ones written."""
    schema = await reflect(engine)
    assert set(schema) == set(metadata.tables)
    for table in metadata.sorted_tables:
        checks = {c.name: normalise_sql(c.sqltext) for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        assert schema[table.name]["check"] == checks
        conditions = {i.name: normalise_sql(i.dialect_options[engine.dialect.name]["where"]) for i in table.indexes}
        indexes = schema[table.name]["index"]
        assert {name: index.where for name, index in indexes.items() if isinstance(index, IndexShape)} == conditions
    outbox_kinds = schema["outbox"]["check"]["ck_outbox_kind"]
    assert isinstance(outbox_kinds, str) and all(f"'{kind.value}'" in outbox_kinds for kind in OutboxKind)


# --- the comparison sees drift -------------------------------------------------------------------


def _copy(source: sa.MetaData) -> sa.MetaData:
    copy = sa.MetaData(naming_convention=dict(source.naming_convention))
    for table in source.sorted_tables:
        table.to_metadata(copy)
    return copy


def _one_more_outbox_kind(source: sa.MetaData) -> None:
    outbox = source.tables["outbox"]
    check = next(c for c in outbox.constraints if c.name == "ck_outbox_kind")
    outbox.constraints.discard(check)
    values = [*(kind.value for kind in OutboxKind), "sms.message"]
    outbox.append_constraint(sa.CheckConstraint(f"kind IN ({', '.join(map(repr, values))})", name=check.name))


def _due_index_not_partial(source: sa.MetaData) -> None:
    outbox = source.tables["outbox"]
    index = next(i for i in outbox.indexes if i.name == "ix_outbox_due")
    outbox.indexes.discard(index)
    sa.Index(index.name, outbox.c.next_attempt_at)


def _attempts_default_zero(source: sa.MetaData) -> None:
    column = sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
    source.tables["outbox"].append_column(column, replace_existing=True)


def _longer_outbox_kind(source: sa.MetaData) -> None:
    source.tables["outbox"].append_column(sa.Column("kind", sa.String(40), nullable=False), replace_existing=True)


def _check_allows_sms(migrated: object, drifted: object) -> bool:
    assert isinstance(migrated, str) and isinstance(drifted, str)
    return "'sms.message'" not in migrated and drifted == f"{migrated}, 'sms.message'"


def _lost_condition(migrated: object, drifted: object) -> bool:
    assert isinstance(migrated, IndexShape) and isinstance(drifted, IndexShape)
    return migrated.where == "delivered_at is null and failed_at is null" and drifted == migrated._replace(where="")


def _got_default(migrated: object, drifted: object) -> bool:
    assert isinstance(migrated, ColumnShape) and isinstance(drifted, ColumnShape)
    return migrated.default is None and drifted == migrated._replace(default="0")


def _got_longer(migrated: object, drifted: object) -> bool:
    assert isinstance(migrated, ColumnShape) and isinstance(drifted, ColumnShape)
    return migrated.type == "VARCHAR(32)" and drifted == migrated._replace(type="VARCHAR(40)")


@pytest.mark.parametrize(
    ("drift", "where", "is_the_change"),
    [
        pytest.param(_one_more_outbox_kind, ("check", "ck_outbox_kind"), _check_allows_sms, id="new-enum-value"),
        pytest.param(_due_index_not_partial, ("index", "ix_outbox_due"), _lost_condition, id="index-not-partial"),
        pytest.param(_attempts_default_zero, ("column", "attempts"), _got_default, id="server-default"),
        pytest.param(_longer_outbox_kind, ("column", "kind"), _got_longer, id="column-type"),
    ],
)
async def test_the_comparison_reports_exactly_a_drift(
    blank: AsyncEngine,
    tmp_path: Path,
    drift: Callable[[sa.MetaData], None],
    where: tuple[str, str],
    is_the_change: Callable[[object, object], bool],
) -> None:
    drifted = _copy(metadata)
    drift(drifted)
    differences = await _migrated_and_created(blank, drifted, tmp_path / "drifted")
    message = explain(differences, "migrations", "drifted")
    assert [(d.table, d.aspect, d.name) for d in differences] == [("outbox", *where)], message
    assert is_the_change(differences[0].left, differences[0].right), message


@pytest.mark.parametrize(
    ("written", "reported"),
    [
        pytest.param(
            "kind IN ('a.b', 'c')",
            "((kind)::text = ANY ((ARRAY['a.b'::character varying, 'c'::character varying])::text[]))",
            id="in-list-pg15",
        ),
        pytest.param(
            "kind IN ('a.b', 'c')",
            "kind::text = ANY (ARRAY['a.b'::character varying, 'c'::character varying]::text[])",
            id="in-list-pretty",
        ),
        pytest.param("kind NOT IN ('a','b')", "((kind)::text <> ALL ((ARRAY['a'::text, 'b'::text])))", id="not-in"),
        pytest.param("kind IN ('a')", "((kind)::text = 'a'::text)", id="one-value-in"),
        pytest.param('"x" IS NULL OR x != y', "((x IS NULL) OR (x <> y))", id="quotes-parentheses"),
        pytest.param("amount > -1", "(amount > '-1'::integer)", id="negative-number"),
        pytest.param("length(key) > 0", "(length((key)::text) > 0)", id="function-call"),
    ],
)
def test_normalised_sql_ignores_how_postgresql_renders_it(written: str, reported: str) -> None:
    assert normalise_sql(written) == normalise_sql(reported)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param("kind IN ('a', 'b')", "kind IN ('a', 'b', 'c')", id="one-more-value"),
        pytest.param("kind IN ('a', 'b')", "kind IN ('a', 'B')", id="literal-case"),
        pytest.param("kind IN ('a', 'b')", "kind NOT IN ('a', 'b')", id="negated"),
        pytest.param("amount >= 0", "amount > 0", id="operator"),
        pytest.param("a IS NULL AND b IS NULL", "a IS NULL OR b IS NULL", id="connective"),
        pytest.param("x - 1 > 0", "x > -1", id="sign-and-subtraction"),
    ],
)
def test_normalised_sql_keeps_what_matters(one: str, other: str) -> None:
    assert normalise_sql(one) != normalise_sql(other)


# --- every revision, down and up again -----------------------------------------------------------


def _revisions() -> list[Script]:
    """All revisions, oldest first."""
    revisions = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
    revisions.reverse()
    assert revisions, "no migrations found"
    return revisions


async def _heads(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))


async def test_every_revision_downgrades_and_upgrades_again(blank: AsyncEngine, tmp_path: Path) -> None:
    """The stairway: for each revision in order, upgrade to it, downgrade to its predecessor (the
    schema is the predecessor's again), upgrade again (the schema is the first upgrade's again)."""
    revisions = _revisions()
    assert revisions[-1].revision == head_revision()
    before = await reflect(blank)
    assert before == {}
    for script in revisions:
        down = script.down_revision
        predecessors = set() if down is None else {down} if isinstance(down, str) else set(down)
        await upgrade(blank, script.revision)
        assert await _heads(blank) == {script.revision}
        upgraded = await reflect(blank)

        await downgrade(blank, "-1")
        assert await _heads(blank) == predecessors, f"{script.revision}: downgrade -1"
        differences = compare(before, await reflect(blank))
        assert differences == [], (
            f"{script.revision}: downgrade -1 left a different schema\n{explain(differences, 'before upgrade', 'after downgrade')}"
        )

        await upgrade(blank, script.revision)
        differences = compare(upgraded, await reflect(blank))
        assert differences == [], (
            f"{script.revision}: upgraded again\n{explain(differences, 'first upgrade', 'second upgrade')}"
        )
        before = upgraded

    differences = compare(before, await _schema_of(metadata, _kind(blank), tmp_path / "metadata"))
    assert differences == [], explain(differences, "migrations", "tables.py")


# --- running the migrations ----------------------------------------------------------------------


async def test_upgrade_twice_is_harmless_and_downgrade_removes_everything(blank: AsyncEngine) -> None:
    await upgrade(blank)
    await upgrade(blank)
    await downgrade(blank, "base")
    async with blank.connect() as connection:
        tables = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert tables == {"alembic_version"}
    assert await current_revision(blank) is None
    await upgrade(blank)
    assert await current_revision(blank) == head_revision()


async def test_upgrade_to_head_by_url_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'aimpay.db'}"
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
    assert list(elsewhere.iterdir()) == []  # nothing written to the working directory


async def test_the_alembic_command_line_path_opens_its_own_engine(tmp_path: Path) -> None:
    """``env.py`` without a handed-over connection (as the ``alembic`` CLI runs it)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        differences = compare(await reflect(engine), await _schema_of(metadata, "sqlite", tmp_path / "metadata"))
        assert differences == [], explain(differences, "migrations", "tables.py")
    finally:
        await engine.dispose()
