import pytest

from domain.ids import TelegramId
from domain.money import Money, Percent
from entrypoints.config import ConfigError, Settings, load_settings

GOOD_TOKEN = "123456789:" + "A" * 35


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("AIMPAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_need_no_configuration() -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.course_price == Money(499_000)
    assert settings.referral_percent == Percent(1000)
    assert settings.admin_ids == ()


def test_values_are_read_from_the_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / ".env").write_text("AIMPAY_COURSE_PRICE=1500.50\nAIMPAY_ADMIN_IDS=7, 8\n")
    monkeypatch.setenv("AIMPAY_REFERRAL_PERCENT", "12.5")
    settings = load_settings()
    terms = settings.shop_terms()
    assert terms.price == Money(150_050)
    assert terms.referral_rate == Percent(1250)
    assert terms.admin_ids == (TelegramId(7), TelegramId(8))


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("AIMPAY_COURSE_PRICE", "49,90", "AIMPAY_COURSE_PRICE"),
        ("AIMPAY_COURSE_PRICE", "0", "above zero"),
        ("AIMPAY_COURSE_PRICE", "1e3", "AIMPAY_COURSE_PRICE"),
        ("AIMPAY_REFERRAL_PERCENT", "101", "AIMPAY_REFERRAL_PERCENT"),
        ("AIMPAY_ADMIN_IDS", "12,abc", "AIMPAY_ADMIN_IDS"),
        ("AIMPAY_BOT_TOKEN", "not-a-token", "AIMPAY_BOT_TOKEN"),
        ("AIMPAY_DATABASE_URL", "mysql://db", "AIMPAY_DATABASE_URL"),
        ("AIMPAY_YOOKASSA_TRUSTED_NETWORKS", "185.71.76.0/27,nonsense", "AIMPAY_YOOKASSA_TRUSTED_NETWORKS"),
        ("AIMPAY_TRUSTED_PROXIES", "10.0.0.0/33", "AIMPAY_TRUSTED_PROXIES"),
        ("AIMPAY_YOOKASSA_RECEIPTS", "perhaps", "AIMPAY_YOOKASSA_RECEIPTS"),
        ("AIMPAY_COURSE_CHAT_ID", "the-chat", "AIMPAY_COURSE_CHAT_ID"),
        ("AIMPAY_TELEGRAM_WEBHOOK_SECRET", "short", "AIMPAY_TELEGRAM_WEBHOOK_SECRET"),
        ("AIMPAY_PUBLIC_URL", "ftp://example.com", "AIMPAY_PUBLIC_URL"),
        ("AIMPAY_EMAIL_FROM", "nobody", "AIMPAY_EMAIL_FROM"),
        ("AIMPAY_INVITE_TTL_HOURS", "0", "AIMPAY_INVITE_TTL_HOURS"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert says in message and name in message
    assert "\n" not in message


def test_real_mode_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMPAY_BOT_TOKEN", GOOD_TOKEN)
    settings = load_settings()
    with pytest.raises(ConfigError, match="AIMPAY_COURSE_CHAT_ID is required for `aimpay serve`"):
        settings.require(*Settings.REAL_MODE, command="serve")


def test_the_cli_prints_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from entrypoints.cli import main

    monkeypatch.setenv("AIMPAY_COURSE_PRICE", "free")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "AIMPAY_COURSE_PRICE" in err[0]
    monkeypatch.delenv("AIMPAY_COURSE_PRICE")
    assert main(["serve"]) == 2
    assert "AIMPAY_BOT_TOKEN is required" in capsys.readouterr().err
