"""``aimpay check`` against the stand-ins of Telegram, YooKassa and Resend, a migrated SQLite file
and Redis: one line per service, then each service broken in turn."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import entrypoints.runtime
from adapters.sql.engine import create_engine
from adapters.sql.migrate import downgrade, head_revision, upgrade_to_head
from entrypoints.cli import main
from entrypoints.config import Settings, load_settings
from entrypoints.runtime import check
from tests.standins.resend import ResendStandIn
from tests.standins.server import refused_url, serve_asgi
from tests.standins.telegram import TelegramBotApiStandIn
from tests.standins.yookassa import YooKassaStandIn

pytestmark = pytest.mark.usefixtures("clean_env")

REDIS_URL = os.environ.get("AIMPAY_TEST_REDIS_URL")  # read before clean_env hides it
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="set AIMPAY_TEST_REDIS_URL to run the Redis tests")
HEAD = head_revision()


@dataclass
class World:
    database: Path
    telegram: TelegramBotApiStandIn
    telegram_url: str
    yookassa: YooKassaStandIn
    yookassa_url: str
    resend: ResendStandIn
    resend_url: str

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": f"sqlite+aiosqlite:///{self.database}",
            "bot_token": self.telegram.token,
            "telegram_api_url": self.telegram_url,
            "yookassa_shop_id": self.yookassa.shop_id,
            "yookassa_secret_key": self.yookassa.secret_key,
            "yookassa_api_url": f"{self.yookassa_url}/v3",
            "resend_api_key": self.resend.api_key,
            "resend_api_url": self.resend_url,
            "email_from": "Course <course@example.com>",
            "course_chat_id": -1001234567890,
        }
        values.update(overrides)
        return load_settings(command="check", **values)

    async def check(self, **overrides: object) -> tuple[int, dict[str, str]]:
        lines: list[str] = []
        code = await check(self.settings(**overrides), out=lines.append)
        assert len(lines) == 5, lines
        return code, {line.split()[0]: line for line in lines}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    database = tmp_path / "aimpay.db"
    await upgrade_to_head(f"sqlite+aiosqlite:///{database}")
    telegram, yookassa, resend = TelegramBotApiStandIn(username="aimpay_check_bot"), YooKassaStandIn(), ResendStandIn()
    async with serve_asgi(telegram.app) as tg, serve_asgi(yookassa.app) as yk, serve_asgi(resend.app) as rs:
        yield World(database, telegram, tg, yookassa, yk, resend, rs)
        telegram.shutdown()


def ok_lines(world: World) -> dict[str, str]:
    return {
        "database": f"database  OK: {world.database} at schema {HEAD} (the latest)",
        "telegram": "telegram  OK: @aimpay_check_bot; webhook: none (long polling); 0 pending",
        "yookassa": f"yookassa  OK: shop {world.yookassa.shop_id} (a test shop), enabled",
        "resend": "resend    OK: example.com verified",
        "redis": "redis     not configured",
    }


async def test_everything_configured_answers(world: World) -> None:
    code, lines = await world.check()
    assert lines == ok_lines(world)
    assert code == 0
    assert [c.method for c in world.telegram.calls] == ["getMe", "getWebhookInfo"]
    assert [(r.method, r.path) for r in world.yookassa.requests_log] == [("GET", "/v3/me")]
    assert [(r.method, r.path) for r in world.resend.requests_log] == [("GET", "/domains")]


@pytest.mark.redis
@needs_redis
async def test_redis_answers_ping(world: World) -> None:
    code, lines = await world.check(redis_url=REDIS_URL)
    assert code == 0
    assert lines["redis"] == f"redis     OK: {REDIS_URL} answers PING"


async def test_a_registered_webhook_is_shown(world: World) -> None:
    world.telegram.webhook.url = "https://pay.example.com/webhooks/telegram"
    code, lines = await world.check(telegram_webhook_url="https://pay.example.com/webhooks/telegram")
    assert code == 0
    assert (
        lines["telegram"]
        == "telegram  OK: @aimpay_check_bot; webhook: https://pay.example.com/webhooks/telegram; 0 pending"
    )
    _, lines = await world.check(telegram_webhook_url="https://new.example.com/webhooks/telegram")
    assert lines["telegram"].endswith("; AIMPAY_TELEGRAM_WEBHOOK_URL is registered when `aimpay serve` starts")


async def test_the_database_missing_or_behind(world: World, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "aimpay.db"
    code, lines = await world.check(database_url=f"sqlite+aiosqlite:///{missing}")
    assert code == 1
    assert lines["database"] == f"database  FAIL: no database at {missing}: run `aimpay migrate` first"
    assert not missing.parent.exists()
    assert {k: v for k, v in lines.items() if k != "database"} == {
        k: v for k, v in ok_lines(world).items() if k != "database"
    }

    engine = create_engine(f"sqlite+aiosqlite:///{world.database}")
    await downgrade(engine, "0001")
    await engine.dispose()
    code, lines = await world.check()
    assert code == 1
    assert lines["database"] == (
        f"database  FAIL: {world.database} is at schema 0001, the code needs {HEAD}: run `aimpay migrate`"
    )


async def test_an_unreachable_database(world: World) -> None:
    url = refused_url().replace("http://", "postgresql+asyncpg://aimpay:hunter2@") + "/aimpay"
    code, lines = await world.check(database_url=url)
    assert code == 1
    assert lines["database"].startswith(
        "database  FAIL: AIMPAY_DATABASE_URL: cannot connect to postgresql+asyncpg://aimpay:***@"
    )
    assert "hunter2" not in lines["database"]


async def test_telegram_refusing_the_token_or_unreachable(world: World) -> None:
    code, lines = await world.check(bot_token="111111111:" + "B" * 35)
    assert code == 1
    assert lines["telegram"] == "telegram  FAIL: AIMPAY_BOT_TOKEN: Telegram refused the token (401 Unauthorized)"

    url = refused_url()
    code, lines = await world.check(telegram_api_url=url)
    assert code == 1
    assert lines["telegram"].startswith(f"telegram  FAIL: cannot reach Telegram at {url}: ")


async def test_yookassa_refusing_the_credentials_disabled_or_unreachable(world: World) -> None:
    code, lines = await world.check(yookassa_secret_key="test_wrong_secret")
    assert code == 1
    assert lines["yookassa"].startswith(
        "yookassa  FAIL: AIMPAY_YOOKASSA_SHOP_ID, AIMPAY_YOOKASSA_SECRET_KEY: YooKassa refused them (YooKassa: GET /me: HTTP 401"
    )
    assert "test_wrong_secret" not in lines["yookassa"]

    world.yookassa.status = "disabled"
    code, lines = await world.check()
    assert code == 1
    assert lines["yookassa"] == f"yookassa  FAIL: shop {world.yookassa.shop_id} (a test shop) is disabled, not enabled"

    url = refused_url()
    code, lines = await world.check(yookassa_api_url=f"{url}/v3")
    assert code == 1
    assert lines["yookassa"].startswith(f"yookassa  FAIL: cannot reach YooKassa at {url}/v3: ")


async def test_a_service_that_never_answers_is_given_up_on(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entrypoints.runtime, "PROBE_TIMEOUT", 0.5)
    world.yookassa.hang_next(seconds=30)
    world.resend.hang_next(seconds=30)
    code, lines = await world.check()
    assert code == 1
    assert lines["yookassa"].startswith("yookassa  FAIL: cannot reach YooKassa at ")
    assert lines["resend"].startswith("resend    FAIL: cannot reach Resend at ")
    assert lines["telegram"] == ok_lines(world)["telegram"]


async def test_resend_refusing_the_key_or_the_domain(world: World) -> None:
    code, lines = await world.check(resend_api_key="re_wrong")
    assert code == 1
    assert lines["resend"] == "resend    FAIL: AIMPAY_RESEND_API_KEY: Resend refused the key (HTTP 403 invalid_api_key)"

    world.resend.domains[0]["status"] = "pending"
    code, lines = await world.check()
    assert code == 1
    assert lines["resend"] == "resend    FAIL: example.com (of AIMPAY_EMAIL_FROM) is pending, not verified"

    code, lines = await world.check(email_from="Course <course@school.example>")
    assert code == 1
    assert lines["resend"] == (
        "resend    FAIL: school.example (of AIMPAY_EMAIL_FROM) is not a domain of this key (its domains: example.com)"
    )

    world.resend.sending_only = True  # a key that may only send: fine, the domain cannot be checked
    code, lines = await world.check()
    assert code == 0
    assert lines["resend"].startswith("resend    OK: the key may only send emails")

    url = refused_url()
    code, lines = await world.check(resend_api_url=url)
    assert code == 1
    assert lines["resend"].startswith(f"resend    FAIL: cannot reach Resend at {url}: ")


async def test_an_unreachable_redis(world: World) -> None:
    url = refused_url().replace("http://", "redis://:hunter2@") + "/0"
    code, lines = await world.check(redis_url=url)
    assert code == 1
    assert lines["redis"].startswith("redis     FAIL: AIMPAY_REDIS_URL: cannot reach redis://:***@127.0.0.1:")
    assert "hunter2" not in lines["redis"]


async def test_services_not_configured_say_so_and_are_not_failures(world: World) -> None:
    code, lines = await world.check(
        payments="sandbox",
        email="log",
        bot_token=None,
        yookassa_shop_id=None,
        yookassa_secret_key=None,
        resend_api_key=None,
    )
    assert code == 0
    assert lines == {
        "database": ok_lines(world)["database"],
        "telegram": "telegram  not configured: AIMPAY_BOT_TOKEN not set (`serve` and `bot` need it)",
        "yookassa": "yookassa  not configured: AIMPAY_PAYMENTS=sandbox: no money moves",
        "resend": "resend    not configured: AIMPAY_EMAIL=log: emails are written to the log",
        "redis": "redis     not configured",
    }


def test_the_cli_check_prints_a_line_per_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 1  # nothing configured, and no database yet
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "database  FAIL: no database at ./var/aimpay.db: run `aimpay migrate` first"
    assert [line.split()[0] for line in out] == ["database", "telegram", "yookassa", "resend", "redis"]
    assert all("not configured" in line for line in out[1:])
    assert not Path("var").exists()  # check never creates a database

    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["check"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"database  OK: ./var/aimpay.db at schema {HEAD} (the latest)"


def test_the_console_script_check(tmp_path: Path) -> None:
    script = Path(sys.prefix) / "bin" / "aimpay"
    result = subprocess.run(
        [str(script), "check"],
        cwd=tmp_path,
        env={**os.environ, "AIMPAY_PAYMENTS": "sandbox", "AIMPAY_EMAIL": "log"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.splitlines()[0] == "database  FAIL: no database at ./var/aimpay.db: run `aimpay migrate` first"
