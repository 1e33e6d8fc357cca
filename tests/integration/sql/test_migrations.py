"""The hand-written migrations build exactly the schema of ``adapters/sql/tables.py``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from adapters.sql.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade, upgrade_to_head
from adapters.sql.tables import metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, metadata))


def _condition(where: object) -> str:
    """A partial index's condition, without PostgreSQL's added casts and parentheses."""
    if where is None:
        return ""
    text = str(where).replace("::text", "").replace("(", "").replace(")", "")
    return " ".join(text.split())


def _named_rules(connection: Connection) -> dict[str, set[str]]:
    """Check constraints and indexes (with their partial-index conditions) per table, which
    ``compare_metadata`` does not compare."""
    inspector = sa.inspect(connection)
    found: dict[str, set[str]] = {}
    for table in metadata.sorted_tables:
        rules = {f"ck:{c['name']}" for c in inspector.get_check_constraints(table.name)}
        for index in inspector.get_indexes(table.name):
            if index.get("duplicates_constraint"):
                continue  # PostgreSQL lists a unique constraint's index too
            options = index.get("dialect_options", {})
            where = options.get("postgresql_where") or options.get("sqlite_where")
            rules.add(f"ix:{index['name']}:unique={bool(index['unique'])}:{_condition(where)}")
        found[table.name] = rules
    return found


def _expected_rules(dialect: sa.Dialect) -> dict[str, set[str]]:
    expected: dict[str, set[str]] = {}
    for table in metadata.sorted_tables:
        rules = {f"ck:{c.name}" for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        for index in table.indexes:
            where = index.dialect_options[dialect.name]["where"]
            rules.add(f"ix:{index.name}:unique={bool(index.unique)}:{_condition(where)}")
        expected[table.name] = rules
    return expected


async def test_upgrade_builds_exactly_the_metadata(blank: AsyncEngine) -> None:
    assert await current_revision(blank) is None
    await upgrade(blank)
    assert await current_revision(blank) == head_revision() == "0001"
    async with blank.connect() as connection:
        assert await connection.run_sync(_differences) == []
        assert await connection.run_sync(_named_rules) == _expected_rules(blank.dialect)


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
    finally:
        await engine.dispose()
