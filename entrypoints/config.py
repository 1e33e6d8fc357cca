"""Configuration from the environment (prefix ``AIMPAY_``) and an optional ``.env`` file.

An empty value (``AIMPAY_COURSE_CHAT_ID=`` in a copied ``.env.example``) counts as unset. Every
problem is found at once and reported one line each, naming the variable and showing the value
(secrets masked): ``ConfigError``. What a command needs beyond the defaults is decided by
``Settings.missing_for(command)``; ``load_settings(command=...)`` checks both together."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

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
Payments = Literal["yookassa", "sandbox"]
EmailMode = Literal["resend", "log"]

# Shown masked in every message: only their first characters.
SECRET_FIELDS = frozenset(
    {"bot_token", "telegram_webhook_secret", "yookassa_secret_key", "resend_api_key", "metrics_token"}
)
# URLs that may carry a password: it is masked.
URL_FIELDS = frozenset({"database_url", "redis_url"})
_LONGEST_SHOWN = 80


class SetupError(Exception):
    """Something to fix before aimpay can run, said in one line (the CLI exits 1)."""

    exit_code: ClassVar[int] = 1

    def lines(self) -> list[str]:
        return [f"aimpay: {self}"]


class ConfigError(SetupError):
    """Configuration problems, one line each, naming the variable (the CLI exits 2)."""

    exit_code: ClassVar[int] = 2

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)

    def lines(self) -> list[str]:
        return [f"aimpay: configuration error: {problem}" for problem in self.problems]


def mask_secret(value: str) -> str:
    """The first four characters of a secret and ``…`` (nothing of a short one)."""
    return value[:4] + "…" if len(value) >= 8 else "…"


def mask_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@/\s]*@", r"\1:***@", url)


def shown(field: str, value: object) -> str:
    """``value`` of ``field`` as a message may show it: secrets masked, passwords hidden, cut short."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    text = value if isinstance(value, str) else str(value)
    if field in SECRET_FIELDS:
        return mask_secret(text)
    if field in URL_FIELDS:
        text = mask_url(text)
    return text if len(text) <= _LONGEST_SHOWN else text[: _LONGEST_SHOWN - 1] + "…"


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
        raise ValueError(f"a comma-separated list of IP addresses or networks ({exc})") from None


def _url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise ValueError("an http(s) URL, e.g. https://pay.example.com")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIMPAY_",
        env_file=".env",
        env_ignore_empty=True,  # `AIMPAY_X=` means "not set", in .env and in the environment
        extra="ignore",
        frozen=True,
        arbitrary_types_allowed=True,
    )

    database_url: str = "sqlite+aiosqlite:///./var/aimpay.db"
    public_url: str | None = None

    # yookassa: real payments; sandbox: payments in memory, paid by a button in the bot.
    payments: Payments = "yookassa"
    # resend: real email; log: emails are written to the log.
    email: EmailMode = "resend"

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
    log_format: Literal["text", "json"] = "text"
    metrics_token: SecretStr | None = None  # turns on GET /metrics (Authorization: Bearer <token>)

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not re.match(r"^[A-Za-z0-9._~+/=-]{16,256}$", value.get_secret_value()):
            raise ValueError("16-256 characters of A-Z a-z 0-9 . _ ~ + / = -; generate one with `openssl rand -hex 32`")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from adapters.sql.engine import parse_url

        try:
            parse_url(value)
        except ValueError as exc:
            message = str(exc)
            if "; use " not in message and "e.g." not in message:
                message += "; use sqlite+aiosqlite:///path/to.db or postgresql+asyncpg://user:pass@host/db"
            raise ValueError(message) from None
        return value

    @field_validator("payments", mode="before")
    @classmethod
    def _payments(cls, value: object) -> object:
        choice = value.strip().lower() if isinstance(value, str) else value
        if choice not in ("yookassa", "sandbox"):
            raise ValueError("yookassa (a real shop) or sandbox (no money moves, paid with a button in the bot)")
        return choice

    @field_validator("email", mode="before")
    @classmethod
    def _email_mode(cls, value: object) -> object:
        choice = value.strip().lower() if isinstance(value, str) else value
        if choice not in ("resend", "log"):
            raise ValueError("resend (real emails) or log (emails are written to the log)")
        return choice

    @field_validator("public_url", "telegram_webhook_url", "telegram_api_url", "yookassa_api_url", "resend_api_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value and not re.match(r"^(redis|rediss|unix)://\S+$", value):
            raise ValueError("a Redis URL, e.g. redis://127.0.0.1:6379/0")
        return value or None

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"^\d{3,12}:[A-Za-z0-9_-]{30,60}$", value.get_secret_value()):
            raise ValueError("a bot token from @BotFather looks like 123456789:AA... (35 characters after the colon)")
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
                    raise ValueError(f"comma-separated Telegram user ids (numbers), and {str(item)!r} is not one")
        return items

    @field_validator("course_price", mode="before")
    @classmethod
    def _price(cls, value: object) -> Money:
        if isinstance(value, Money):
            return value
        try:
            money = Money.parse(str(value))
        except InvalidValue:
            raise ValueError("an amount looks like 4990.00 (rubles, a dot, at most two decimals)") from None
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
        except InvalidValue:
            raise ValueError("a percent from 0 to 100 like 10 or 12.5 (at most two decimals)") from None

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

    @field_validator("log_format", mode="before")
    @classmethod
    def _format(cls, value: object) -> object:
        choice = value.strip().lower() if isinstance(value, str) else value
        if choice not in ("text", "json"):
            raise ValueError("text or json (one JSON object a line)")
        return choice

    # What `serve` and `bot` need with real payments and real email (``missing_for`` decides by mode).
    REAL_MODE: ClassVar[tuple[str, ...]] = (
        "bot_token",
        "course_chat_id",
        "yookassa_shop_id",
        "yookassa_secret_key",
        "resend_api_key",
        "email_from",
    )

    @property
    def sandbox(self) -> bool:
        """Payments in memory, paid with a button in the bot: no money moves."""
        return self.payments == "sandbox"

    def missing_for(self, command: str) -> list[str]:
        """One line for every variable ``aimpay <command>`` needs and does not have. ``migrate``,
        ``demo`` and ``check`` need nothing; ``serve`` and ``bot`` need what their modes use."""
        if command not in ("serve", "bot"):
            return []
        needs: list[tuple[str, str]] = [("bot_token", " (the token from @BotFather)")]
        if self.payments == "yookassa":
            why = " with AIMPAY_PAYMENTS=yookassa (AIMPAY_PAYMENTS=sandbox runs without a shop)"
            needs += [("course_chat_id", why), ("yookassa_shop_id", why), ("yookassa_secret_key", why)]
        if self.email == "resend":
            why = " with AIMPAY_EMAIL=resend (AIMPAY_EMAIL=log writes emails to the log instead)"
            needs += [("resend_api_key", why), ("email_from", why)]
        problems = [
            f"AIMPAY_{name.upper()}: required by `aimpay {command}`{why}, not set"
            for name, why in needs
            if getattr(self, name) in (None, "")
        ]
        if command == "serve" and self.telegram_webhook_url and self.telegram_webhook_secret is None:
            problems.append(
                "AIMPAY_TELEGRAM_WEBHOOK_SECRET: required by `aimpay serve` when AIMPAY_TELEGRAM_WEBHOOK_URL is set"
                " (generate one with `openssl rand -hex 32`), not set"
            )
        return problems

    def require(self, *names: str, command: str) -> None:
        """Raises ``ConfigError`` naming every one of ``names`` that is not set."""
        missing = [
            f"AIMPAY_{name.upper()}: required by `aimpay {command}`, not set"
            for name in names
            if getattr(self, name) in (None, "")
        ]
        if missing:
            raise ConfigError(*missing)

    def shop_terms(self) -> ShopTerms:
        return ShopTerms(
            course_title=self.course_title,
            price=self.course_price,
            referral_rate=self.referral_percent,
            admin_ids=tuple(TelegramId(i) for i in self.admin_ids),
            receipts=self.yookassa_receipts,
            invite_ttl=timedelta(hours=self.invite_ttl_hours),
        )


def _what(error: Any) -> str:
    """What a value should look like, for one of pydantic's errors (never pydantic's own words)."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        return str(error.get("msg", "")).removeprefix("Value error, ")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "a whole number"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return "a number"
    if kind in ("bool_parsing", "bool_type"):
        return "true or false"
    if kind == "greater_than_equal":
        return f"at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"at most {ctx.get('le')}"
    if kind == "greater_than":
        return f"more than {ctx.get('gt')}"
    if kind == "less_than":
        return f"less than {ctx.get('lt')}"
    return "not a valid value"


def _problem(field: str, error: Any) -> str:
    line = f"AIMPAY_{field.upper()}: {_what(error)}"
    if "input" in error:
        line += f", got '{shown(field, error['input'])}'"
    return line


def _defaults_for(fields: set[str]) -> dict[str, object]:
    return {name: Settings.model_fields[name].get_default(call_default_factory=True) for name in fields}


def load_settings(command: str | None = None, **overrides: object) -> Settings:
    """Reads the environment (and ``.env``), with ``overrides`` taking precedence. Raises
    ``ConfigError`` with one line for every bad value and, when ``command`` is given, for every
    variable that command needs and does not have."""
    bad: dict[str, str] = {}
    settings: Settings | None = None
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            bad.setdefault(field, _problem(field, error))
    except SettingsError as exc:  # a value that could not even be decoded
        match = re.search(r'field "(\w+)"', str(exc))
        field = match.group(1) if match else "?"
        bad[field] = f"AIMPAY_{field.upper()}: cannot be read"
    if bad and command is not None and not bad.keys() & {"payments", "email", "?"}:
        # What else is missing, judged with the bad values set aside (the modes are known).
        try:
            settings = Settings(**{**overrides, **_defaults_for(set(bad))})  # type: ignore[arg-type]
        except (ValidationError, SettingsError):
            settings = None
    problems = list(bad.values())
    if settings is not None and command is not None:
        reported = {f"AIMPAY_{field.upper()}" for field in bad}
        problems += [line for line in settings.missing_for(command) if line.split(":", 1)[0] not in reported]
    if problems:
        raise ConfigError(*problems)
    assert settings is not None
    return settings
