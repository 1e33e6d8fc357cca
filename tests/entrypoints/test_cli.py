"""``aimpay migrate | serve | bot | demo`` through ``entrypoints.cli.main`` and the installed
console script."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

import entrypoints.runtime
from adapters.sql.migrate import head_revision
from entrypoints.cli import main
from tests.standins.server import free_port

pytestmark = pytest.mark.usefixtures("clean_env")

TABLES = {"customers", "purchases", "ledger_entries", "access_grants", "blacklist", "outbox", "alembic_version"}
CREDENTIALS = {
    "AIMPAY_BOT_TOKEN": "123456789:" + "A" * 35,
    "AIMPAY_COURSE_CHAT_ID": "-1001234567890",
    "AIMPAY_YOOKASSA_SHOP_ID": "123456",
    "AIMPAY_YOOKASSA_SECRET_KEY": "test_secret",
    "AIMPAY_RESEND_API_KEY": "re_test",
    "AIMPAY_EMAIL_FROM": "Course <course@example.com>",
}


def _schema(database: Path) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, ...]]]:
    with closing(sqlite3.connect(database)) as db:
        objects = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        versions = db.execute("SELECT version_num FROM alembic_version").fetchall()
    return objects, versions


def test_migrate_creates_the_schema_and_running_it_again_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "data" / "aimpay.db"  # its directory does not exist yet
    monkeypatch.setenv("AIMPAY_DATABASE_URL", f"sqlite+aiosqlite:///{database}")

    assert main(["migrate"]) == 0
    objects, versions = _schema(database)
    assert {name for kind, name, _ in objects if kind == "table"} >= TABLES
    assert versions == [(head_revision(),)]
    with closing(sqlite3.connect(database)) as db:
        db.execute("INSERT INTO blacklist (telegram_id, added_at) VALUES (7, '2025-01-01 00:00:00.000000')")
        db.commit()

    assert main(["migrate"]) == 0
    assert _schema(database) == (objects, versions)
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT telegram_id FROM blacklist").fetchall() == [(7,)]


def _must_not_start(*args: object) -> None:
    raise AssertionError("started without its configuration")


@pytest.mark.parametrize("command", ["serve", "bot"])
@pytest.mark.parametrize(
    ("missing", "given"),
    [
        ("AIMPAY_BOT_TOKEN", {}),
        ("AIMPAY_EMAIL_FROM", {k: v for k, v in CREDENTIALS.items() if k != "AIMPAY_EMAIL_FROM"}),
        ("AIMPAY_YOOKASSA_SECRET_KEY", {k: v for k, v in CREDENTIALS.items() if k != "AIMPAY_YOOKASSA_SECRET_KEY"}),
    ],
)
def test_serve_and_bot_without_credentials_exit_2_naming_the_variable(
    command: str,
    missing: str,
    given: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(entrypoints.runtime, "serve", _must_not_start)
    monkeypatch.setattr(entrypoints.runtime, "poll", _must_not_start)
    for name, value in given.items():
        monkeypatch.setenv(name, value)

    assert main([command]) == 2

    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert missing in lines[0] and f"aimpay {command}" in lines[0]
    assert all(name not in lines[0] for name in given)
    assert captured.out == ""


def test_an_invalid_value_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("AIMPAY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv("AIMPAY_COURSE_PRICE", "49,90")

    assert main(["migrate"]) == 2

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "AIMPAY_COURSE_PRICE" in lines[0]
    assert not (tmp_path / "never.db").exists()


def test_demo_once_plays_the_whole_journey(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--once", "--port", str(free_port())]) == 0

    out = capsys.readouterr().out
    assert "The journey completed." in out
    assert "✘" not in out
    assert (tmp_path / "var" / "demo.db").is_file()  # in the working directory, not the repository's


def test_the_installed_console_script_runs_the_demo(tmp_path: Path) -> None:
    script = Path(sys.prefix) / "bin" / "aimpay"
    assert script.is_file(), f"{script} is missing: install the project (pip install -e .)"

    result = subprocess.run(
        [str(script), "demo", "--once", "--port", str(free_port())],
        cwd=tmp_path,
        env=dict(os.environ),  # AIMPAY_* removed by clean_env
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "The journey completed." in result.stdout
