"""How aimpay logs: one place that sets up the root logger for every command.

Every line, ours, the libraries' and uvicorn's, goes through one handler on the root logger, in
one format (``text``, or ``json``: one object per line), with the id of the request it was
written for (``REQUEST_ID``, set by the HTTP middleware of ``entrypoints.http.observability`` and
for Telegram's updates by ``tag_update``) and with secrets masked (``SecretMasker``)."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import BaseModel, SecretStr

FORMATS = ("text", "json")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
ACCESS_LOGGER = "aimpay.access"  # one line per HTTP request (written by the observability middleware)

# --- the request id -----------------------------------------------------------------------------


@dataclass(slots=True)
class RequestTag:
    """The id every line written for one request carries. ``from_caller``: taken from the
    caller's ``X-Request-Id`` (kept); otherwise made up here, and a Telegram update handled in
    the request may name it after itself (``tag_update``)."""

    id: str
    from_caller: bool = False


REQUEST_ID: ContextVar[RequestTag | None] = ContextVar("aimpay_request_id", default=None)

_SANE_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it is a token fit to copy into logs and headers (1-128 characters of
    letters, digits and ``._:/+=@-``), else ``None``."""
    if value and _SANE_ID.match(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def begin_request(incoming: str | None) -> tuple[RequestTag, Token[RequestTag | None]]:
    """Sets the request id for what follows in this context: the caller's ``incoming`` one if it
    is sane, else a new one. Undo with ``REQUEST_ID.reset(token)``."""
    given = sane_request_id(incoming)
    tag = RequestTag(given, from_caller=True) if given else RequestTag(new_request_id())
    return tag, REQUEST_ID.set(tag)


def current_request_id() -> str | None:
    tag = REQUEST_ID.get()
    return tag.id if tag is not None else None


async def tag_update(handler: Callable[[Any, dict[str, Any]], Awaitable[Any]], event: Any, data: dict[str, Any]) -> Any:
    """An aiogram outer middleware for ``dispatcher.update``: a Telegram update's lines carry
    ``tg-<update_id>`` as their request id. Inside an HTTP request (the webhook) that names the
    request itself, unless its caller sent an ``X-Request-Id`` of its own; by long polling, it
    holds while the update is handled."""
    update_id = getattr(event, "update_id", None)
    if update_id is None:
        return await handler(event, data)
    tag = REQUEST_ID.get()
    if tag is not None:
        if not tag.from_caller:
            tag.id = f"tg-{update_id}"
        return await handler(event, data)
    token = REQUEST_ID.set(RequestTag(f"tg-{update_id}"))
    try:
        return await handler(event, data)
    finally:
        REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or ``None``) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


# --- secrets ------------------------------------------------------------------------------------

MASK = "***"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # the bot token in the Bot API's URLs (aiogram, aiohttp): .../bot123456:AA.../sendMessage
    (re.compile(r"/bot\d+:[A-Za-z0-9_-]+"), f"/bot{MASK}"),
    # a bot token anywhere else
    (re.compile(r"\b\d{3,12}:[A-Za-z0-9_-]{35}\b"), MASK),
    # Bearer x / Basic x (an Authorization header, a dict's repr, a curl line)
    (re.compile(r"\b(Bearer|bearer|BEARER|Basic|BASIC)(\s+)[A-Za-z0-9._~+/-]+=*"), rf"\1\2{MASK}"),
    # Authorization: <a value without a scheme>
    (re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)(?!(?:bearer|basic)\s)[^\s'",}]+"""), rf"\1{MASK}"),
    # user:password@ in a URL (database, Redis)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), rf"\1{MASK}@"),
)


def secret_values(settings: BaseModel) -> tuple[str, ...]:
    """The values of the settings marked secret (``SecretStr`` fields) that are set."""
    values = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            values.append(value.get_secret_value())
    return tuple(values)


class SecretMasker(logging.Filter):
    """Masks credentials in a record's message, its exception text and its string ``extra=``
    fields: bot tokens (in Bot API URLs and bare), ``Authorization``/``Bearer``/``Basic``
    credentials, passwords in URLs, and the exact ``secrets`` given (the settings marked
    secret)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # the longest first, so a secret that contains another is masked whole
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format: the handler reports it when it formats the record
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        for key in _extra_keys(record):
            value = record.__dict__[key]
            if isinstance(value, str):
                record.__dict__[key] = self.mask(value)
        return True


# --- formats ------------------------------------------------------------------------------------

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
}


def _extra_keys(record: logging.LogRecord) -> list[str]:
    return [key for key in record.__dict__ if key not in _STANDARD and not key.startswith("_")]


def _utc(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2026-12-01T10:00:00.123Z INFO logger [request id]: message``, then the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        line = f"{_utc(record)} {record.levelname} {record.name}{f' [{request_id}]' if request_id else ''}: "
        line += record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
    ``request_id`` and ``exception`` when there is one, and every ``extra=`` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key in _extra_keys(record):
            entry.setdefault(key, record.__dict__[key])
        return json.dumps(entry, ensure_ascii=False, default=str)


# --- setting it up ------------------------------------------------------------------------------


class _AimpayHandler(logging.StreamHandler[IO[str]]):
    """The one handler ``configure_logging`` installs (and replaces when called again)."""


def configure_logging(
    level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> None:
    """Our lines and the libraries' in one format at ``level``: ``fmt`` is ``text`` or ``json``;
    ``secrets`` are masked wherever they appear (with bot tokens, credentials in URLs and
    ``Authorization`` values). Writes to ``stream`` (default: standard error)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format is one of {', '.join(FORMATS)}, got {fmt!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _AimpayHandler)]:
        root.removeHandler(old)
    handler = _AimpayHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(SecretMasker(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    adopt_uvicorn_loggers()


def configure_for(settings: BaseModel | None, stream: IO[str] | None = None) -> None:
    """``configure_logging`` as the settings say: ``AIMPAY_LOG_LEVEL``, ``AIMPAY_LOG_FORMAT``, and
    every setting marked secret masked."""
    if settings is None:
        configure_logging(stream=stream)
        return
    level = getattr(settings, "log_level", "INFO")
    configure_logging(level, getattr(settings, "log_format", "text"), secret_values(settings), stream=stream)


def is_configured() -> bool:
    return any(isinstance(h, _AimpayHandler) for h in logging.getLogger().handlers)


def adopt_uvicorn_loggers() -> None:
    """Sends uvicorn's lines through our handler (uvicorn gives its loggers handlers and
    formats of their own when its server is configured: the HTTP app calls this again when it
    starts). uvicorn's own access log is turned off: our middleware writes one line per request
    with its id (``aimpay.access``)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False  # without handlers uvicorn writes no access line at all
