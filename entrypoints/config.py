"""Configuration from the environment (prefix ``AIMPAY_``) and an optional ``.env`` file.

An invalid value, or a value missing for the command being run, stops start-up with one clear
line naming the variable (``ConfigError``)."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from application.terms import ShopTerms
from domain.errors import InvalidValue
from domain.ids import TelegramId
from domain.money import Money, Percent

# SDK 3.13's SecurityHelper.YOOKASSA_NETWORKS, the /64s folded into YooKassa's /32.
YOOKASSA_NETWORKS = (
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "2a02:5180::/32",
)

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


class ConfigError(Exception):
    """One line naming the variable and what is wrong with it."""


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _networks(value: object) -> Networks:
    items = _split(value)
    if not isinstance(items, list | tuple):
        raise ValueError("a comma-separated list of IP networks, e.g. 185.71.76.0/27,77.75.156.11")
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in items)
    except ValueError as exc:
        raise ValueError(f"not an IP address or network: {exc}") from None


def _url(value: str | None, *, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIMPAY_", env_file=".env", extra="ignore", frozen=True, arbitrary_types_allowed=True
    )

    database_url: str = "sqlite+aiosqlite:///./var/aimpay.db"
    public_url: str | None = None

    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_url: str | None = None
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    # Messages a second the bot sends in all (Telegram allows about 30); one a second into any one
    # chat is Telegram's rule and not configurable.
    telegram_rate: int = Field(default=25, ge=1, le=30)

    course_title: str = "Онлайн-курс"
    course_price: Annotated[Money, NoDecode] = Money(499_000)
    course_chat_id: int | None = None
    invite_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    referral_percent: Annotated[Percent, NoDecode] = Percent(1000)

    yookassa_shop_id: str | None = None
    yookassa_secret_key: SecretStr | None = None
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    yookassa_trusted_networks: Annotated[Networks, NoDecode] = _networks(list(YOOKASSA_NETWORKS))
    yookassa_receipts: bool = False
    yookassa_vat_code: int = Field(default=1, ge=1, le=12)
    trusted_proxies: Annotated[Networks, NoDecode] = ()

    resend_api_key: SecretStr | None = None
    resend_api_url: str = "https://api.resend.com"
    email_from: str | None = None

    redis_url: str | None = None
    throttle_rate: int = Field(default=5, ge=1, le=1000)
    throttle_period: float = Field(default=3.0, gt=0, le=3600)
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path/to.db or postgresql+asyncpg://user@host/db")
        return value

    @field_validator("public_url", "telegram_webhook_url", "telegram_api_url", "yookassa_api_url", "resend_api_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _url(value, name="the value")

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"^\d{3,12}:[A-Za-z0-9_-]{30,60}$", value.get_secret_value()):
            raise ValueError("a bot token from @BotFather looks like 123456789:AA...(35 characters)")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"^[A-Za-z0-9_-]{16,256}$", value.get_secret_value()):
            raise ValueError(
                "16-256 characters of A-Z a-z 0-9 _ - (Telegram's rule); generate one with `openssl rand -hex 32`"
            )
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admins(cls, value: object) -> object:
        items = _split(value)
        if isinstance(items, list):
            for item in items:
                if not str(item).isdigit() or int(item) <= 0:
                    raise ValueError(f"comma-separated Telegram user ids, got {item!r}")
        return items

    @field_validator("course_price", mode="before")
    @classmethod
    def _price(cls, value: object) -> Money:
        if isinstance(value, Money):
            return value
        try:
            money = Money.parse(str(value))
        except InvalidValue as exc:
            raise ValueError(f"{exc} (rubles with a dot, e.g. 4990.00)") from None
        if not money.is_positive:
            raise ValueError("the price must be above zero")
        return money

    @field_validator("referral_percent", mode="before")
    @classmethod
    def _percent(cls, value: object) -> Percent:
        if isinstance(value, Percent):
            return value
        try:
            return Percent.parse(str(value))
        except InvalidValue as exc:
            raise ValueError(str(exc)) from None

    @field_validator("yookassa_trusted_networks", "trusted_proxies", mode="before")
    @classmethod
    def _nets(cls, value: object) -> Networks:
        return _networks(value)

    @field_validator("course_title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip() or len(value) > 128:
            raise ValueError("1-128 characters")
        return value.strip()

    @field_validator("email_from")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        if value and not re.match(r"^([^<>]*<)?[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+>?$", value):
            raise ValueError("an address like 'Course <course@example.com>'")
        return value or None

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("one of DEBUG, INFO, WARNING, ERROR")
        return value.upper()

    # What each command needs beyond the defaults.
    REAL_MODE: ClassVar[tuple[str, ...]] = (
        "bot_token",
        "course_chat_id",
        "yookassa_shop_id",
        "yookassa_secret_key",
        "resend_api_key",
        "email_from",
    )

    def require(self, *names: str, command: str) -> None:
        for name in names:
            if getattr(self, name) in (None, ""):
                raise ConfigError(f"AIMPAY_{name.upper()} is required for `aimpay {command}` (see .env.example)")

    def shop_terms(self) -> ShopTerms:
        return ShopTerms(
            course_title=self.course_title,
            price=self.course_price,
            referral_rate=self.referral_percent,
            admin_ids=tuple(TelegramId(i) for i in self.admin_ids),
            receipts=self.yookassa_receipts,
            invite_ttl=timedelta(hours=self.invite_ttl_hours),
        )


def load_settings(**overrides: object) -> Settings:
    """Reads the environment; raises ``ConfigError`` naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"AIMPAY_{field.upper()}: {message}") from None
    except SettingsError as exc:  # a value that could not even be decoded
        match = re.search(r'field "(\w+)"', str(exc))
        field = match.group(1) if match else "?"
        raise ConfigError(f"AIMPAY_{field.upper()}: cannot be read ({exc})") from None
