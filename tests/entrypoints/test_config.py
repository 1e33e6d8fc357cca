"""Reading the configuration: every problem at once, one line each, naming the variable and
showing its value with secrets masked; what each command needs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from domain.ids import TelegramId
from domain.money import Money, Percent
from entrypoints.config import ConfigError, Settings, load_settings, mask_url

GOOD_TOKEN = "123456789:" + "A" * 35
REPOSITORY = Path(__file__).resolve().parents[2]
PYDANTIC_WORDS = ("Input should", "validation error", "pydantic", "For further information", "type=")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AIMPAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def problems_of(**env: str) -> tuple[str, ...]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        with pytest.raises(ConfigError) as caught:
            load_settings()
    return caught.value.problems


def test_defaults_need_no_configuration() -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.course_price == Money(499_000)
    assert settings.referral_percent == Percent(1000)
    assert settings.admin_ids == ()
    assert (settings.payments, settings.email, settings.sandbox) == ("yookassa", "resend", False)


def test_values_are_read_from_the_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AIMPAY_COURSE_PRICE=1500.50\nAIMPAY_ADMIN_IDS=7, 8\nAIMPAY_PAYMENTS=Sandbox\n")
    monkeypatch.setenv("AIMPAY_REFERRAL_PERCENT", "12.5")
    settings = load_settings()
    terms = settings.shop_terms()
    assert terms.price == Money(150_050)
    assert terms.referral_rate == Percent(1250)
    assert terms.admin_ids == (TelegramId(7), TelegramId(8))
    assert settings.sandbox


def test_an_empty_value_counts_as_unset_in_dotenv_and_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("AIMPAY_COURSE_CHAT_ID=\nAIMPAY_ADMIN_IDS=\nAIMPAY_COURSE_PRICE=\n")
    for name in ("AIMPAY_BOT_TOKEN", "AIMPAY_REDIS_URL", "AIMPAY_TELEGRAM_RATE", "AIMPAY_PUBLIC_URL"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.course_chat_id is None and settings.admin_ids == () and settings.bot_token is None
    assert settings.course_price == Money(499_000) and settings.telegram_rate == 25
    assert settings.redis_url is None and settings.public_url is None


def test_a_copied_env_example_runs_migrate_and_demo_and_with_a_token_the_sandbox(tmp_path: Path) -> None:
    example = (REPOSITORY / ".env.example").read_text(encoding="utf-8")
    (tmp_path / ".env").write_text(example, encoding="utf-8")
    for command in ("migrate", "demo", "check"):
        assert load_settings(command=command).sandbox
    with pytest.raises(ConfigError) as caught:
        load_settings(command="bot")
    assert caught.value.problems == ("AIMPAY_BOT_TOKEN: required by `aimpay bot` (the token from @BotFather), not set",)

    (tmp_path / ".env").write_text(example.replace("AIMPAY_BOT_TOKEN=\n", f"AIMPAY_BOT_TOKEN={GOOD_TOKEN}\n"))
    for command in ("serve", "bot"):
        settings = load_settings(command=command)
        assert (settings.payments, settings.email, settings.course_chat_id) == ("sandbox", "log", None)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("AIMPAY_COURSE_PRICE", "49,90", "an amount looks like 4990.00"),
        ("AIMPAY_COURSE_PRICE", "0", "above zero"),
        ("AIMPAY_COURSE_PRICE", "1e3", "an amount looks like 4990.00"),
        ("AIMPAY_REFERRAL_PERCENT", "101", "a percent from 0 to 100"),
        ("AIMPAY_ADMIN_IDS", "12,abc", "Telegram user ids"),
        ("AIMPAY_DATABASE_URL", "mysql://db", "unsupported database URL scheme"),
        ("AIMPAY_DATABASE_URL", "postgresql://u@h/db", "use postgresql+asyncpg://"),
        ("AIMPAY_YOOKASSA_TRUSTED_NETWORKS", "185.71.76.0/27,nonsense", "IP addresses or networks"),
        ("AIMPAY_TRUSTED_PROXIES", "10.0.0.0/33", "IP addresses or networks"),
        ("AIMPAY_YOOKASSA_RECEIPTS", "perhaps", "true or false"),
        ("AIMPAY_COURSE_CHAT_ID", "the-chat", "a whole number"),
        ("AIMPAY_PUBLIC_URL", "ftp://example.com", "an http(s) URL"),
        ("AIMPAY_EMAIL_FROM", "nobody", "an address like"),
        ("AIMPAY_INVITE_TTL_HOURS", "0", "at least 1"),
        ("AIMPAY_TELEGRAM_RATE", "31", "at most 30"),
        ("AIMPAY_THROTTLE_PERIOD", "soon", "a number"),
        ("AIMPAY_PAYMENTS", "paypal", "yookassa (a real shop) or sandbox"),
        ("AIMPAY_EMAIL", "smtp", "resend (real emails) or log"),
        ("AIMPAY_LOG_LEVEL", "loud", "one of DEBUG, INFO, WARNING, ERROR"),
        ("AIMPAY_LOG_FORMAT", "xml", "text or json"),
        ("AIMPAY_REDIS_URL", "localhost:6379", "a Redis URL"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable_and_showing_the_value(name: str, value: str, says: str) -> None:
    [problem] = problems_of(**{name: value})
    assert problem.startswith(f"{name}: ") and says in problem
    assert problem.endswith(f", got '{value}'")
    assert "\n" not in problem
    assert not any(word in problem for word in PYDANTIC_WORDS), problem


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("AIMPAY_BOT_TOKEN", "1234567890:short-and-secret", "1234…"),
        ("AIMPAY_TELEGRAM_WEBHOOK_SECRET", "short!secret-value", "shor…"),
        ("AIMPAY_BOT_TOKEN", "abc", "…"),
    ],
)
def test_a_bad_secret_is_shown_masked(name: str, value: str, shown: str) -> None:
    [problem] = problems_of(**{name: value})
    assert problem.startswith(f"{name}: ") and problem.endswith(f", got '{shown}'")
    assert value not in problem


def test_a_password_in_a_bad_url_is_masked() -> None:
    [database, redis] = problems_of(
        AIMPAY_DATABASE_URL="mysql://shop:hunter2@db.example.com/shop", AIMPAY_REDIS_URL="http://:hunter2@cache/0"
    )
    assert "hunter2" not in database + redis
    assert database.endswith("got 'mysql://shop:***@db.example.com/shop'")
    assert redis.endswith("got 'http://:***@cache/0'")
    assert mask_url("postgresql+asyncpg://u:p@h:5432/db") == "postgresql+asyncpg://u:***@h:5432/db"
    assert mask_url("sqlite+aiosqlite:///./var/aimpay.db") == "sqlite+aiosqlite:///./var/aimpay.db"


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMPAY_COURSE_PRICE", "49,90")
    monkeypatch.setenv("AIMPAY_ADMIN_IDS", "7,x")
    monkeypatch.setenv("AIMPAY_YOOKASSA_SECRET_KEY", "test_wrong_but_set")
    monkeypatch.setenv("AIMPAY_BOT_TOKEN", "not-a-token")
    with pytest.raises(ConfigError) as caught:
        load_settings(command="serve")
    problems = caught.value.problems
    named = [p.split(":", 1)[0] for p in problems]
    assert named == [
        "AIMPAY_BOT_TOKEN",  # invalid
        "AIMPAY_ADMIN_IDS",
        "AIMPAY_COURSE_PRICE",
        "AIMPAY_COURSE_CHAT_ID",  # then what `serve` needs and does not have
        "AIMPAY_YOOKASSA_SHOP_ID",
        "AIMPAY_RESEND_API_KEY",
        "AIMPAY_EMAIL_FROM",
    ]
    assert all("\n" not in p for p in problems)
    assert str(caught.value) == "; ".join(problems)


def test_what_serve_and_bot_need_depends_on_the_modes() -> None:
    def missing(command: str, **values: object) -> list[str]:
        return [p.split(":", 1)[0] for p in load_settings(**values).missing_for(command)]

    real = [
        "AIMPAY_BOT_TOKEN",
        "AIMPAY_COURSE_CHAT_ID",
        "AIMPAY_YOOKASSA_SHOP_ID",
        "AIMPAY_YOOKASSA_SECRET_KEY",
        "AIMPAY_RESEND_API_KEY",
        "AIMPAY_EMAIL_FROM",
    ]
    assert missing("serve") == missing("bot") == real
    assert missing("migrate") == missing("demo") == missing("check") == []
    assert missing("bot", payments="sandbox", email="log") == ["AIMPAY_BOT_TOKEN"]
    assert missing("bot", payments="sandbox") == ["AIMPAY_BOT_TOKEN", "AIMPAY_RESEND_API_KEY", "AIMPAY_EMAIL_FROM"]
    assert missing("bot", email="log", bot_token=GOOD_TOKEN) == real[1:4]
    webhook = {"payments": "sandbox", "email": "log", "bot_token": GOOD_TOKEN}
    assert missing("serve", telegram_webhook_url="https://pay.example.com/webhooks/telegram", **webhook) == [
        "AIMPAY_TELEGRAM_WEBHOOK_SECRET"
    ]
    assert missing("bot", telegram_webhook_url="https://pay.example.com/webhooks/telegram", **webhook) == []


def test_require_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMPAY_BOT_TOKEN", GOOD_TOKEN)
    settings = load_settings()
    with pytest.raises(ConfigError) as caught:
        settings.require(*Settings.REAL_MODE, command="serve")
    assert caught.value.problems[0] == "AIMPAY_COURSE_CHAT_ID: required by `aimpay serve`, not set"
    assert len(caught.value.problems) == 5


def test_the_cli_prints_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from entrypoints.cli import main

    monkeypatch.setenv("AIMPAY_COURSE_PRICE", "free")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "aimpay: configuration error: AIMPAY_COURSE_PRICE: an amount looks like 4990.00"
        " (rubles, a dot, at most two decimals), got 'free'"
    ]
