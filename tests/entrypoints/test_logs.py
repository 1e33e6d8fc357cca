"""How aimpay logs: one format (text or JSON lines) for our lines and uvicorn's, the request id
carried from an HTTP request into the use cases' lines, and secrets never written."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher

from domain.money import Money
from entrypoints.logs import (
    REQUEST_ID,
    UVICORN_LOGGERS,
    begin_request,
    configure_for,
    configure_logging,
    current_request_id,
    secret_values,
    tag_update,
)
from tests.entrypoints.test_http_app import LOOPBACK, TELEGRAM_SECRET, notification, start_update
from tests.entrypoints.test_metrics import PendingSettings, observed_shop

pytestmark = pytest.mark.usefixtures("clean_env")

log = logging.getLogger("tests.logs")

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<level>[A-Z]+) (?P<logger>[\w.]+)(?: \[(?P<rid>[^\]]+)\])?: "
)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the configured handler writes; the logging setup is put back afterwards."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    names = [*UVICORN_LOGGERS, "uvicorn.access", "aiogram.event", "httpx"]
    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers)) for name in names}
    propagate = {name: logging.getLogger(name).propagate for name in names}
    yield io.StringIO()
    root.handlers[:] = saved_root[1]
    root.setLevel(saved_root[0])
    for name, (level, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate[name]


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(stream)]


# --- the formats --------------------------------------------------------------------------------


def test_text_lines_name_the_time_level_logger_and_request(logs: io.StringIO) -> None:
    configure_logging("INFO", "text", stream=logs)
    log.debug("not at INFO")
    log.info("hello %s", "world")
    _, token = begin_request("req-7")
    try:
        log.warning("inside a request")
    finally:
        REQUEST_ID.reset(token)
    first, second = lines(logs)
    assert re.match(TEXT_LINE.pattern + r"hello world$", first)
    match = TEXT_LINE.match(second)
    assert match and (match["level"], match["logger"], match["rid"]) == ("WARNING", "tests.logs", "req-7")
    assert second.endswith(": inside a request")


def test_json_lines_are_one_object_each_with_the_request_exception_and_extra_fields(logs: io.StringIO) -> None:
    configure_logging("DEBUG", "json", stream=logs)
    log.debug("plain %d", 1)
    _, token = begin_request(None)
    try:
        log.info("with extras", extra={"payment_id": "fake-1", "attempt": 2, "when": datetime(2026, 1, 1, tzinfo=UTC)})
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            log.exception("it broke")
        request_id = current_request_id()
    finally:
        REQUEST_ID.reset(token)
    plain, extras, broken = json_lines(logs)
    assert set(plain) == {"time", "level", "logger", "message"}
    assert (plain["level"], plain["logger"], plain["message"]) == ("DEBUG", "tests.logs", "plain 1")
    written = datetime.fromisoformat(plain["time"].replace("Z", "+00:00"))
    assert plain["time"].endswith("Z") and abs(datetime.now(UTC) - written) < timedelta(minutes=1)
    assert request_id is not None and re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert extras["request_id"] == request_id == broken["request_id"]
    assert (extras["payment_id"], extras["attempt"], extras["when"]) == ("fake-1", 2, "2026-01-01 00:00:00+00:00")
    assert broken["message"] == "it broke" and broken["level"] == "ERROR"
    assert "Traceback" in broken["exception"] and "RuntimeError: boom\nsecond line" in broken["exception"]
    assert len(lines(logs)) == 3  # a multi-line exception is still one line of JSON


def test_an_unknown_format_is_refused(logs: io.StringIO) -> None:
    with pytest.raises(ValueError, match="text, json"):
        configure_logging("INFO", "xml", stream=logs)


def test_the_settings_choose_level_format_and_secrets(logs: io.StringIO) -> None:
    settings = PendingSettings(log_level="WARNING", log_format="json", resend_api_key="re_live_0123456789abcdef")
    assert "re_live_0123456789abcdef" in secret_values(settings)
    configure_for(settings, stream=logs)
    log.info("below the level")
    log.warning("the key re_live_0123456789abcdef")
    (line,) = json_lines(logs)
    assert line["message"] == "the key ***"


# --- secrets ------------------------------------------------------------------------------------

BOT_TOKEN = "123456789:AAH" + "x7Y_-" * 6 + "abcd"
SECRETS = {
    "bot_token": BOT_TOKEN,
    "yookassa_secret_key": "live_Yk0SecretKeyValue1234567890",
    "resend_api_key": "re_Resend0Key1234567890",
    "telegram_webhook_secret": "webhook-secret-" + "w" * 24,
    "metrics_token": "metrics-" + "m" * 32,
}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_never_written(logs: io.StringIO, fmt: str) -> None:
    settings = PendingSettings(**SECRETS)
    configure_for(PendingSettings(**SECRETS, log_format=fmt), stream=logs)
    assert set(secret_values(settings)) == set(SECRETS.values())
    url_password, bearer, basic = "hunter2pass", "eyJhbGciOiJIUzI1NiJ9.e30.sig", "c2hvcDpsaXZlX3NlY3JldA=="
    log.warning("POST https://api.telegram.org/bot%s/sendMessage failed", BOT_TOKEN)
    log.warning("a bare token %s in a message", BOT_TOKEN)
    log.warning("request headers: {'Authorization': 'Basic %s', 'Accept': 'application/json'}", basic)
    log.warning("curl -H 'Authorization: Bearer %s' https://example.com", bearer)
    log.warning("Authorization=%s", "raw-credential-value")
    log.warning("connecting to postgresql+asyncpg://aimpay:%s@db:5432/aimpay", url_password)
    log.warning("redis at redis://:%s@redis:6379/0", url_password)
    log.warning(
        "yookassa %s, resend %s, webhook %s, metrics %s",
        SECRETS["yookassa_secret_key"],
        SECRETS["resend_api_key"],
        SECRETS["telegram_webhook_secret"],
        SECRETS["metrics_token"],
    )
    log.warning("in an extra field", extra={"url": f"https://api.telegram.org/bot{BOT_TOKEN}/getMe"})
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{BOT_TOKEN}/getUpdates")
    except ConnectionError:
        log.exception("in an exception with %s", SECRETS["resend_api_key"])
    written = logs.getvalue()
    for secret in [*SECRETS.values(), url_password, bearer, basic, "raw-credential-value", BOT_TOKEN.split(":")[1]]:
        assert secret not in written
    # what is around the secrets stays, so the line still says what happened
    for kept in (
        "/bot***/sendMessage",
        "Basic ***",
        "Bearer ***",
        "aimpay:***@db:5432",
        "redis://:***@redis",
        "getUpdates",
    ):
        assert kept in written
    assert written.count("***") >= 12


# --- the request id -----------------------------------------------------------------------------


async def test_the_request_id_goes_from_the_request_into_the_use_cases_lines(logs: io.StringIO, tmp_path: Path) -> None:
    configure_logging("INFO", "text", stream=logs)
    async with observed_shop(tmp_path, yookassa_trusted_networks=LOOPBACK) as shop, shop.client() as client:
        payment_id = await shop.checkout()
        # YooKassa reports another amount: ConfirmPayment refuses it, and its handler logs an error
        shop.gateway.payments[payment_id] = replace(shop.gateway.succeed(payment_id), amount=Money(100))
        given = await client.post(
            "/webhooks/yookassa", json=notification(payment_id), headers={"X-Request-Id": "req-42"}
        )
        assert given.status_code == 200 and given.json() == {"outcome": "mismatch"}
        assert given.headers["x-request-id"] == "req-42"
        made_up = await client.get("/healthz")
        insane = await client.get("/healthz", headers={"X-Request-Id": "two words"})
    written = lines(logs)

    refused = [line for line in written if "refused payment" in line]
    assert len(refused) == 1
    match = TEXT_LINE.match(refused[0])
    assert match and (match["logger"], match["rid"]) == ("application.handlers.purchases", "req-42")
    (access,) = [line for line in written if "aimpay.access [req-42]:" in line]
    assert re.search(r"aimpay.access \[req-42\]: POST /webhooks/yookassa 200 \d+\.\d ms 127\.0\.0\.1$", access)

    for response in (made_up, insane):  # no id, or one not fit to copy: one is made up
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert any(f"aimpay.access [{request_id}]: GET /healthz 200" in line for line in written)
    # uvicorn's own lines in the same format, and no access line of its own beside ours
    assert any(re.match(TEXT_LINE.pattern + "Application startup complete", line) for line in written)
    assert not [line for line in written if " uvicorn.access" in line]


async def test_a_telegram_update_is_its_own_request() -> None:
    seen: list[str | None] = []

    async def handler(event: Any, data: dict[str, Any]) -> None:
        seen.append(current_request_id())

    class Update:
        update_id = 91

    await tag_update(handler, Update(), {})  # by long polling: the update's id while it is handled
    assert seen == ["tg-91"] and current_request_id() is None
    tag, token = begin_request(None)  # in the webhook's request: it names the request
    try:
        await tag_update(handler, Update(), {})
        assert seen[-1] == "tg-91" and tag.id == "tg-91"
    finally:
        REQUEST_ID.reset(token)
    _, token = begin_request("from-the-caller")  # unless the caller named it
    try:
        await tag_update(handler, Update(), {})
        assert seen[-1] == "from-the-caller"
    finally:
        REQUEST_ID.reset(token)


async def test_a_telegram_update_names_the_webhooks_request(logs: io.StringIO, tmp_path: Path) -> None:
    def tag_updates(dispatcher: Dispatcher) -> None:  # what make_dispatcher is asked to do
        if tag_update not in dispatcher.update.outer_middleware:
            dispatcher.update.outer_middleware(tag_update)

    configure_logging("INFO", "text", stream=logs)
    async with (
        observed_shop(tmp_path, on_dispatcher=tag_updates, telegram_webhook_secret=TELEGRAM_SECRET) as shop,
        shop.client() as client,
    ):
        secret = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        answer = await client.post("/webhooks/telegram", json=start_update(5, 777), headers=secret)
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "tg-5"
    assert any(re.search(r"aimpay\.access \[tg-5\]: POST /webhooks/telegram 200 ", line) for line in lines(logs))
