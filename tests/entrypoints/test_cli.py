"""``aimpay migrate | serve | bot | check | demo`` through ``entrypoints.cli.main`` and the installed
console script: what each command needs, and one line (never a traceback) for every mistake."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import uvicorn

import entrypoints.runtime
from adapters.sql.migrate import head_revision
from entrypoints.cli import main
from tests.standins.server import free_port
from tests.standins.telegram import TelegramBotApiStandIn

pytestmark = pytest.mark.usefixtures("clean_env")

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.prefix) / "bin" / "aimpay"
TABLES = {"customers", "purchases", "ledger_entries", "access_grants", "blacklist", "outbox", "alembic_version"}
TOKEN = "123456789:" + "A" * 35
CREDENTIALS = {
    "AIMPAY_BOT_TOKEN": TOKEN,
    "AIMPAY_COURSE_CHAT_ID": "-1001234567890",
    "AIMPAY_YOOKASSA_SHOP_ID": "123456",
    "AIMPAY_YOOKASSA_SECRET_KEY": "test_secret",
    "AIMPAY_RESEND_API_KEY": "re_test",
    "AIMPAY_EMAIL_FROM": "Course <course@example.com>",
}
SANDBOX = {"AIMPAY_PAYMENTS": "sandbox", "AIMPAY_EMAIL": "log", "AIMPAY_BOT_TOKEN": TOKEN}
CONFIG = "aimpay: configuration error: "


def _schema(database: Path) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, ...]]]:
    with closing(sqlite3.connect(database)) as db:
        objects = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        versions = db.execute("SELECT version_num FROM alembic_version").fetchall()
    return objects, versions


def _env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What the command said on standard error, its log lines left out."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("aimpay: ")]


def _must_not_start(*args: object) -> None:
    raise AssertionError("started without its configuration")


@contextmanager
def served_in_a_thread(app: object) -> Iterator[str]:
    """Serves ``app`` on 127.0.0.1 from a thread of its own (``main`` runs its own event loop)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the stand-in did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def migrated(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """A migrated SQLite file at the default place; its name as messages say it."""
    assert main(["migrate"]) == 0
    capsys.readouterr()
    return "./var/aimpay.db"


# --- migrate ------------------------------------------------------------------------------------


def test_migrate_creates_the_schema_and_running_it_again_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "data" / "aimpay.db"  # its directory does not exist yet
    monkeypatch.setenv("AIMPAY_DATABASE_URL", f"sqlite+aiosqlite:///{database}")

    assert main(["migrate"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"aimpay: created the SQLite database {database}",
        f"aimpay: migrated the database at {database} from schema none to {head_revision()} (the latest)",
    ]
    objects, versions = _schema(database)
    assert {name for kind, name, _ in objects if kind == "table"} >= TABLES
    assert versions == [(head_revision(),)]
    with closing(sqlite3.connect(database)) as db:
        db.execute("INSERT INTO blacklist (telegram_id, added_at) VALUES (7, '2025-01-01 00:00:00.000000')")
        db.commit()

    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"aimpay: the database at {database} is already at the latest schema ({head_revision()})"
    ]
    assert _schema(database) == (objects, versions)
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT telegram_id FROM blacklist").fetchall() == [(7,)]


def test_migrate_keeps_alembics_lines_out_of_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    captured = capsys.readouterr()
    assert "alembic" not in captured.err and "Running upgrade" not in captured.err + captured.out
    assert captured.err == ""


def test_migrate_status_and_downgrade(migrated: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = head_revision()
    assert main(["migrate", "status"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"database: {migrated}", f"current:  {head}", f"head:     {head}"]

    assert main(["migrate", "downgrade", "0001"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"aimpay: downgraded the database at {migrated} from schema {head} to 0001"
    ]
    assert main(["migrate", "status"]) == 1
    assert capsys.readouterr().out.splitlines()[1:] == ["current:  0001", f"head:     {head} (run `aimpay migrate`)"]

    assert main(["migrate", "downgrade", "nonsense"]) == 1
    [line] = _err_lines(capsys)
    assert line.startswith(f"aimpay: cannot downgrade the database at {migrated} to nonsense: ")

    assert main(["migrate"]) == 0
    assert "from schema 0001 to" in capsys.readouterr().out


def test_migrate_status_of_a_missing_database_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "status"]) == 2
    assert _err_lines(capsys) == [
        f"{CONFIG}AIMPAY_DATABASE_URL: no database at ./var/aimpay.db: run `aimpay migrate` first"
    ]
    assert not (tmp_path / "var").exists()


def test_migrate_imports_no_part_of_the_bot(tmp_path: Path) -> None:
    code = (
        "import sys; from entrypoints.cli import main; rc = main(['migrate']); "
        "loaded = [m for m in ('aiogram', 'uvicorn', 'starlette', 'entrypoints.runtime') if m in sys.modules]; "
        "print(rc, loaded)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr


def test_an_unreachable_postgresql_is_one_line_with_the_password_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("AIMPAY_DATABASE_URL", f"postgresql+asyncpg://aimpay:hunter2@127.0.0.1:{port}/aimpay")
    for command in (["migrate"], ["migrate", "status"]):
        assert main(command) == 2
        [line] = _err_lines(capsys)
        assert line.startswith(
            f"{CONFIG}AIMPAY_DATABASE_URL: cannot connect to postgresql+asyncpg://aimpay:***@127.0.0.1:{port}/aimpay: "
        )
        assert "hunter2" not in line


# --- what serve and bot need --------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "bot"])
@pytest.mark.parametrize(
    ("missing", "given"),
    [
        (list(CREDENTIALS), {}),
        (["AIMPAY_EMAIL_FROM"], {k: v for k, v in CREDENTIALS.items() if k != "AIMPAY_EMAIL_FROM"}),
        (
            ["AIMPAY_COURSE_CHAT_ID", "AIMPAY_YOOKASSA_SECRET_KEY"],
            {k: v for k, v in CREDENTIALS.items() if k not in ("AIMPAY_YOOKASSA_SECRET_KEY", "AIMPAY_COURSE_CHAT_ID")},
        ),
        (["AIMPAY_BOT_TOKEN"], {"AIMPAY_PAYMENTS": "sandbox", "AIMPAY_EMAIL": "log"}),
    ],
)
def test_serve_and_bot_name_every_missing_variable_and_exit_2(
    command: str,
    missing: list[str],
    given: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(entrypoints.runtime, "serve", _must_not_start)
    monkeypatch.setattr(entrypoints.runtime, "poll", _must_not_start)
    _env(monkeypatch, given)

    assert main([command]) == 2

    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert [line.removeprefix(CONFIG).split(":", 1)[0] for line in lines] == missing
    assert all(line.startswith(CONFIG) and f"`aimpay {command}`" in line for line in lines)
    assert captured.out == ""


@pytest.mark.parametrize("command", ["serve", "bot"])
def test_the_sandbox_needs_only_a_bot_token(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    started: list[object] = []

    async def record(settings: object, *args: object) -> None:
        started.append(settings)

    monkeypatch.setattr(entrypoints.runtime, "serve", record)
    monkeypatch.setattr(entrypoints.runtime, "poll", record)
    example = (REPOSITORY / ".env.example").read_text(encoding="utf-8")
    (tmp_path / ".env").write_text(example.replace("AIMPAY_BOT_TOKEN=\n", f"AIMPAY_BOT_TOKEN={TOKEN}\n"))

    assert main([command]) == 0
    assert len(started) == 1 and _err_lines(capsys) == []


def test_several_problems_are_reported_together_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(
        monkeypatch,
        {
            "AIMPAY_BOT_TOKEN": "987654321:tooshort",
            "AIMPAY_TELEGRAM_WEBHOOK_SECRET": "has spaces in it, secretly",
            "AIMPAY_COURSE_PRICE": "49,90",
            "AIMPAY_PAYMENTS": "sandbox",
            "AIMPAY_EMAIL": "log",
        },
    )
    assert main(["bot"]) == 2
    assert _err_lines(capsys) == [
        f"{CONFIG}AIMPAY_BOT_TOKEN: a bot token from @BotFather looks like 123456789:AA... (35 characters after"
        " the colon), got '9876…'",
        f"{CONFIG}AIMPAY_TELEGRAM_WEBHOOK_SECRET: 16-256 characters of A-Z a-z 0-9 _ - (Telegram's rule);"
        " generate one with `openssl rand -hex 32`, got 'has …'",
        f"{CONFIG}AIMPAY_COURSE_PRICE: an amount looks like 4990.00 (rubles, a dot, at most two decimals), got '49,90'",
    ]


def test_an_invalid_value_stops_migrate_before_it_touches_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("AIMPAY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv("AIMPAY_COURSE_PRICE", "49,90")

    assert main(["migrate"]) == 2

    [line] = _err_lines(capsys)
    assert line.startswith(f"{CONFIG}AIMPAY_COURSE_PRICE: ")
    assert not (tmp_path / "never.db").exists()


# --- the database serve, bot and check run on ---------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "bot"])
def test_a_missing_sqlite_file_is_never_created_by_serve_or_bot(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _env(monkeypatch, SANDBOX)
    assert main([command, "--port", str(free_port())] if command == "serve" else [command]) == 2
    assert _err_lines(capsys) == [
        f"{CONFIG}AIMPAY_DATABASE_URL: no database at ./var/aimpay.db: run `aimpay migrate` first"
    ]
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("command", ["serve", "bot"])
def test_an_unmigrated_database_says_so_and_exits_1(
    command: str, migrated: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, SANDBOX)
    assert main(["migrate", "downgrade", "0001"]) == 0
    capsys.readouterr()
    assert main([command, "--port", str(free_port())] if command == "serve" else [command]) == 1
    assert _err_lines(capsys) == [
        f"aimpay: the database at {migrated} is at schema 0001, the code needs {head_revision()}: run `aimpay migrate`"
    ]

    empty = Path("empty.db")
    empty.touch()
    monkeypatch.setenv("AIMPAY_DATABASE_URL", "sqlite+aiosqlite:///empty.db")
    assert main([command, "--port", str(free_port())] if command == "serve" else [command]) == 1
    assert _err_lines(capsys) == [
        f"aimpay: the database at empty.db is at schema none, the code needs {head_revision()}: run `aimpay migrate`"
    ]


def test_serve_on_an_unreachable_postgresql_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, SANDBOX)
    port = free_port()
    monkeypatch.setenv("AIMPAY_DATABASE_URL", f"postgresql+asyncpg://shop:hunter2@127.0.0.1:{port}/shop")
    assert main(["serve", "--port", str(free_port())]) == 2
    [line] = _err_lines(capsys)
    assert line.startswith(f"{CONFIG}AIMPAY_DATABASE_URL: cannot connect to postgresql+asyncpg://shop:***@127.0.0.1:")


# --- Telegram and the port ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "bot"])
def test_a_refused_bot_token_is_one_line(
    command: str, migrated: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    telegram = TelegramBotApiStandIn()  # its token is another one: every call is 401
    with served_in_a_thread(telegram.app) as url:
        _env(monkeypatch, {**SANDBOX, "AIMPAY_TELEGRAM_API_URL": url})
        assert main([command, "--port", str(free_port())] if command == "serve" else [command]) == 2
    assert _err_lines(capsys) == [f"{CONFIG}AIMPAY_BOT_TOKEN: Telegram refused the token (401 Unauthorized)"]


def test_a_port_in_use_is_one_line(
    migrated: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, SANDBOX)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert _err_lines(capsys) == [f"aimpay: port {port} on 127.0.0.1 is in use: choose another with --port"]


# --- conventions --------------------------------------------------------------------------------


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("aimpay ")

    says = {
        "migrate": ["AIMPAY_DATABASE_URL", "sqlite+aiosqlite:///./var/aimpay.db", "status", "downgrade REV"],
        "serve": ["AIMPAY_BOT_TOKEN", "AIMPAY_PAYMENTS=sandbox", "AIMPAY_YOOKASSA_SHOP_ID", "(default: 8000)"],
        "bot": ["AIMPAY_BOT_TOKEN", "AIMPAY_EMAIL=log", "AIMPAY_RESEND_API_KEY", "long polling"],
        "check": ["Exit 0 when every configured one is OK", "Resend"],
        "demo": ["--once", "no token", "(default: 127.0.0.1)"],
    }
    for command, fragments in says.items():
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert all(fragment in out for fragment in fragments), (command, out)
    with pytest.raises(SystemExit):
        main(["migrate", "downgrade", "--help"])
    assert "'base'" in capsys.readouterr().out


def test_demo_once_plays_the_whole_journey_from_a_copied_env_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_text((REPOSITORY / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["demo", "--once", "--port", str(free_port())]) == 0

    out = capsys.readouterr().out
    assert "The journey completed." in out
    assert "✘" not in out


# --- the installed console script ---------------------------------------------------------------


def _script(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: install the project (pip install -e .)"
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},  # AIMPAY_* removed by clean_env
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_console_script_reports_every_configuration_problem_in_one_line_each(tmp_path: Path) -> None:
    result = _script("serve", cwd=tmp_path, env={"AIMPAY_COURSE_PRICE": "49,90", "AIMPAY_RESEND_API_KEY": "re_x"})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert [line.removeprefix(CONFIG).split(":", 1)[0] for line in lines] == [
        "AIMPAY_COURSE_PRICE",
        "AIMPAY_BOT_TOKEN",
        "AIMPAY_COURSE_CHAT_ID",
        "AIMPAY_YOOKASSA_SHOP_ID",
        "AIMPAY_YOOKASSA_SECRET_KEY",
        "AIMPAY_EMAIL_FROM",
    ]
    assert all(line.startswith(CONFIG) for line in lines) and result.stdout == ""


def test_the_console_script_migrates_and_refuses_a_taken_port(tmp_path: Path) -> None:
    migrated = _script("migrate", cwd=tmp_path)
    assert migrated.returncode == 0 and migrated.stderr == ""
    assert "migrated the database at ./var/aimpay.db" in migrated.stdout

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _script("serve", "--port", str(port), cwd=tmp_path, env=SANDBOX)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"aimpay: port {port} on 127.0.0.1 is in use: choose another with --port"]


def test_the_installed_console_script_runs_the_demo(tmp_path: Path) -> None:
    result = _script("demo", "--once", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "The journey completed." in result.stdout
