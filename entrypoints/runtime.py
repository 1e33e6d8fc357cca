"""Assembling and running the processes: the HTTP app (``serve``), the polling bot (``bot``), and
``check``, which reaches every configured service and says what is wrong with it."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from html import escape

import httpx
import uvicorn
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from dishka import AsyncContainer
from dishka.exceptions import NoFactoryError
from dishka.integrations.aiogram import setup_dishka as setup_aiogram_dishka
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from adapters.catalog import MessageCatalog
from adapters.catalog.html import as_html
from adapters.sandbox import SandboxCourseAccess, SandboxPaymentGateway
from adapters.sql.migrate import head_revision
from adapters.yookassa import YooKassaApi
from application.ports.messaging import CourseAccess
from application.ports.payment_gateway import PaymentGatewayRejected, PaymentGatewayUnavailable
from application.terms import ShopTerms
from domain.customer import Language
from entrypoints.bot.dispatcher import build_dispatcher, set_bot_commands
from entrypoints.bot.storage import make_events_isolation, make_storage
from entrypoints.bot.throttling import make_throttling
from entrypoints.cli import database_name, database_revision, ready_database, sqlite_file
from entrypoints.config import ConfigError, Settings, SetupError, mask_url
from entrypoints.container import make_container
from entrypoints.http.app import Registration, create_app, settle_memory
from entrypoints.logs import tag_update
from entrypoints.outbox_worker import OutboxWorker

log = logging.getLogger(__name__)

# What is retried until Telegram answers (the webhook's registration, the polling bot's start):
# at once, then after RETRY_FIRST seconds, doubling up to RETRY_MAX.
RETRY_FIRST = 1.0
RETRY_MAX = 60.0
TELEGRAM_TIMEOUT = 10  # seconds for each Bot API call made at start-up
PREFLIGHT_TIMEOUT = 5  # seconds `serve` waits to learn whether Telegram refuses the token
PROBE_TIMEOUT = 5.0  # seconds for each service `aimpay check` asks
TOKEN_REFUSED = "AIMPAY_BOT_TOKEN: Telegram refused the token (401 Unauthorized)"


# --- the bot and the HTTP app -------------------------------------------------------------------


async def _has_sandbox_payments(container: AsyncContainer) -> bool:
    try:
        await container.get(SandboxPaymentGateway)
    except NoFactoryError:  # the offline harness, or real payments
        return False
    return True


async def make_dispatcher(container: AsyncContainer, settings: Settings) -> Dispatcher:
    """The bot as the container and the settings make it; the sandbox's checkout is included when
    the container's payments are the sandbox's."""
    dispatcher = build_dispatcher(
        storage=make_storage(settings.redis_url),
        throttling=make_throttling(settings.redis_url, settings.throttle_rate, settings.throttle_period),
        events_isolation=make_events_isolation(settings.redis_url),
        catalog=await container.get(MessageCatalog),
        sandbox=settings.sandbox and await _has_sandbox_payments(container),
    )
    dispatcher.update.outer_middleware(tag_update)
    setup_aiogram_dishka(container, router=dispatcher, auto_inject=True)
    return dispatcher


def build_http_app(
    container: AsyncContainer,
    settings: Settings,
    bot: Bot,
    dispatcher: Dispatcher,
    *,
    offline: bool = False,
    **kwargs: object,
) -> Starlette:
    """The app ``serve`` runs: webhooks, health, the outbox worker, and (in the sandbox without a
    course chat but with ``AIMPAY_PUBLIC_URL``) the sandbox's course pages. The command menu and,
    when ``AIMPAY_TELEGRAM_WEBHOOK_URL`` is set, the webhook are registered with Telegram in the
    background, retried until Telegram answers (``Registration``)."""
    worker = OutboxWorker(container)
    dispatcher["outbox_worker"] = worker  # handlers that queue messages wake it
    secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else None
    webhook = settings.telegram_webhook_url if secret else None

    async def register() -> None:
        try:
            if webhook and secret:
                await bot.set_webhook(
                    webhook,
                    secret_token=secret,
                    allowed_updates=dispatcher.resolve_used_update_types(),
                    request_timeout=TELEGRAM_TIMEOUT,
                )
                log.info("telegram webhook registered at %s", webhook)
            if not offline:
                await set_bot_commands(bot, dispatcher["catalog"], request_timeout=TELEGRAM_TIMEOUT)
        except TelegramUnauthorizedError:
            raise ConfigError(TOKEN_REFUSED) from None

    registration = None
    if webhook or not offline:
        registration = Registration(
            register, what="webhook" if webhook else "bot commands", first_delay=RETRY_FIRST, max_delay=RETRY_MAX
        )
    extra_routes = list(kwargs.pop("extra_routes", ()))  # type: ignore[call-overload]
    if not offline:
        extra_routes += sandbox_routes(settings)
    return create_app(
        container,
        telegram=(dispatcher, bot, secret) if secret else None,
        worker=worker,
        registration=registration,
        extra_routes=extra_routes,
        **kwargs,  # type: ignore[arg-type]
    )


def sandbox_routes(settings: Settings) -> list[BaseRoute]:
    """``GET /sandbox/course/<token>``: where a sandbox invite link leads when there is no course
    chat and this server has a public URL."""
    if not (settings.sandbox and settings.course_chat_id is None and settings.public_url):
        return []
    return [Route("/sandbox/course/{token}", sandbox_course_page, methods=["GET"])]


async def sandbox_course_page(request: Request) -> HTMLResponse:
    """Says what the link would do in a real course chat (no money moves), with a button that
    opens it in the bot, where opening it admits its user."""
    container: AsyncContainer = request.app.state.dishka_container
    course = await container.get(CourseAccess)
    catalog = await container.get(MessageCatalog)
    terms = await container.get(ShopTerms)
    language = Language.from_telegram(request.headers.get("accept-language", "")[:2].lower() or None)
    token = request.path_params["token"]
    invite = course.invite(token) if isinstance(course, SandboxCourseAccess) else None
    status, button = 404, ""
    if invite is None or invite.revoked or invite.expires_at <= datetime.now(UTC):
        body = catalog.text(language, "sandbox.course_page_unknown")
    else:
        assert isinstance(course, SandboxCourseAccess)
        status = 200
        body = catalog.text(language, "sandbox.course_page", title=terms.course_title)
        link = await course.deep_link(token)
        button = f'<p><a href="{escape(link)}">{escape(catalog.text(language, "sandbox.course_page_open"))}</a></p>'
    page = (
        f'<!doctype html><html lang="{language.value}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(terms.course_title)} (sandbox)</title></head>"
        f"<body>{as_html(body)}{button}</body></html>"
    )
    return HTMLResponse(page, status_code=status)


def uvicorn_server(app: Starlette, host: str, port: int, **kwargs: object) -> uvicorn.Server:
    # proxy_headers off: X-Forwarded-For is judged by our own SourcePolicy, never by uvicorn.
    config = uvicorn.Config(app, host=host, port=port, proxy_headers=False, log_level="warning", **kwargs)  # type: ignore[arg-type]
    return uvicorn.Server(config)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for uvicorn to serve on, or one line saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SetupError(f"port {port} on {host} is in use: choose another with --port") from None
        raise SetupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


async def _token_refused(bot: Bot) -> bool:
    """Whether Telegram refuses the token; any other failure (an outage) does not stop start-up."""
    try:
        await bot.get_me(request_timeout=PREFLIGHT_TIMEOUT)
    except TelegramUnauthorizedError:
        return True
    except Exception as exc:  # noqa: BLE001 - Telegram away: start anyway, register when it is back
        log.warning("telegram: cannot reach the Bot API now (%s); starting anyway", exc)
    return False


@dataclass
class Serving:
    """``serve``'s server, ready to run on its bound socket (``run``); ``server.should_exit``
    stops it."""

    server: uvicorn.Server
    sock: socket.socket

    async def run(self) -> None:
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            self.sock.close()


async def prepare_serve(settings: Settings, host: str, port: int) -> Serving:
    """Everything ``serve`` checks and builds before it serves: one line for what is wrong."""
    problems = settings.missing_for("serve")
    if problems:
        raise ConfigError(*problems)
    sock = listen(host, port)
    container: AsyncContainer | None = None
    try:
        await ready_database(settings)
        container = make_container(settings)
        bot = await container.get(Bot)
        if await _token_refused(bot):
            raise ConfigError(TOKEN_REFUSED)
        dispatcher = await make_dispatcher(container, settings)
        app = build_http_app(container, settings, bot, dispatcher)
    except BaseException:
        sock.close()
        if container is not None:
            await container.close()
        raise
    log.info("serving on http://%s:%d", host, port)
    return Serving(uvicorn_server(app, host, port), sock)


async def serve(settings: Settings, host: str, port: int) -> None:
    await (await prepare_serve(settings, host, port)).run()


async def until_telegram_answers(attempt: Callable[[], Awaitable[None]], what: str) -> None:
    """Runs ``attempt`` until it succeeds, waiting RETRY_FIRST seconds and doubling up to
    RETRY_MAX between tries, one warning each; a refused token (401) stops it with one line."""
    delay, tries = RETRY_FIRST, 0
    while True:
        tries += 1
        try:
            await attempt()
            return
        except TelegramUnauthorizedError:
            raise ConfigError(TOKEN_REFUSED) from None
        except Exception as exc:  # noqa: BLE001 - Telegram away: try again
            log.warning("telegram: %s failed (attempt %d): %s; trying again in %g s", what, tries, exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX)


async def poll(settings: Settings) -> None:
    problems = settings.missing_for("bot")
    if problems:
        raise ConfigError(*problems)
    await ready_database(settings)
    container = make_container(settings)
    try:
        bot = await container.get(Bot)
        dispatcher = await make_dispatcher(container, settings)
        worker = OutboxWorker(container)
        dispatcher["outbox_worker"] = worker
        worker.start()  # delivers the outbox while Telegram is being reached, too
        settle_memory()
        try:

            async def start() -> None:
                await bot.delete_webhook(drop_pending_updates=False, request_timeout=TELEGRAM_TIMEOUT)
                await set_bot_commands(bot, dispatcher["catalog"], request_timeout=TELEGRAM_TIMEOUT)
                await bot.me()

            await until_telegram_answers(start, "starting the bot")
            await dispatcher.start_polling(
                bot, allowed_updates=dispatcher.resolve_used_update_types(), handle_signals=True
            )
        finally:
            await worker.stop()
    finally:
        await container.close()


# --- aimpay check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """What ``check`` found about one service: ``ok`` is ``None`` when it is not configured."""

    service: str
    ok: bool | None
    detail: str = ""

    def line(self) -> str:
        state = "not configured" if self.ok is None else "OK" if self.ok else "FAIL"
        return f"{self.service:<9} {state}" + (f": {self.detail}" if self.detail else "")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


async def check_database(settings: Settings) -> Finding:
    name = database_name(settings.database_url)
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        return Finding("database", False, f"no database at {name}: run `aimpay migrate` first")
    try:
        current = await database_revision(settings.database_url, timeout=PROBE_TIMEOUT)
    except SetupError as exc:
        return Finding("database", False, str(exc))
    head = head_revision()
    if current != head:
        return Finding(
            "database", False, f"{name} is at schema {current or 'none'}, the code needs {head}: run `aimpay migrate`"
        )
    return Finding("database", True, f"{name} at schema {head} (the latest)")


async def check_telegram(settings: Settings) -> Finding:
    if settings.bot_token is None:
        return Finding("telegram", None, "AIMPAY_BOT_TOKEN not set (`serve` and `bot` need it)")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(settings.bot_token.get_secret_value(), session=session)
    timeout = max(1, round(PROBE_TIMEOUT))
    try:
        me = await bot.get_me(request_timeout=timeout)
        info = await bot.get_webhook_info(request_timeout=timeout)
    except TelegramUnauthorizedError:
        return Finding("telegram", False, TOKEN_REFUSED)
    except TelegramNetworkError as exc:
        return Finding("telegram", False, f"cannot reach Telegram at {settings.telegram_api_url}: {exc.message}")
    except TelegramAPIError as exc:
        return Finding("telegram", False, f"Telegram answered: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - network failures of every kind are one line
        return Finding("telegram", False, f"cannot reach Telegram at {settings.telegram_api_url}: {_reason(exc)}")
    finally:
        await session.close()
    parts = [f"@{me.username}", f"webhook: {info.url or 'none (long polling)'}", f"{info.pending_update_count} pending"]
    if info.last_error_message:
        when = f" at {info.last_error_date:%Y-%m-%d %H:%M} UTC" if info.last_error_date else ""
        parts.append(f"last error{when}: {info.last_error_message}")
    if settings.telegram_webhook_url and info.url != settings.telegram_webhook_url:
        parts.append("AIMPAY_TELEGRAM_WEBHOOK_URL is registered when `aimpay serve` starts")
    return Finding("telegram", True, "; ".join(parts))


async def check_yookassa(settings: Settings) -> Finding:
    if not (settings.yookassa_shop_id and settings.yookassa_secret_key):
        if settings.sandbox:
            return Finding("yookassa", None, "AIMPAY_PAYMENTS=sandbox: no money moves")
        return Finding(
            "yookassa",
            None,
            "AIMPAY_YOOKASSA_SHOP_ID and AIMPAY_YOOKASSA_SECRET_KEY not set"
            " (`serve` and `bot` need them with AIMPAY_PAYMENTS=yookassa)",
        )
    api = YooKassaApi(
        settings.yookassa_shop_id,
        settings.yookassa_secret_key.get_secret_value(),
        api_url=settings.yookassa_api_url,
        timeout=PROBE_TIMEOUT,
        deadline=PROBE_TIMEOUT,
    )
    try:
        me = await api.request("GET", "/me")
    except PaymentGatewayRejected as exc:
        return Finding(
            "yookassa",
            False,
            f"AIMPAY_YOOKASSA_SHOP_ID, AIMPAY_YOOKASSA_SECRET_KEY: YooKassa refused them ({_reason(exc)})",
        )
    except PaymentGatewayUnavailable as exc:
        return Finding("yookassa", False, f"cannot reach YooKassa at {settings.yookassa_api_url}: {_reason(exc)}")
    finally:
        await api.aclose()
    account = me.get("account_id", settings.yookassa_shop_id) if isinstance(me, dict) else settings.yookassa_shop_id
    status = me.get("status") if isinstance(me, dict) else None
    test = " (a test shop)" if isinstance(me, dict) and me.get("test") else ""
    if status != "enabled":
        return Finding("yookassa", False, f"shop {account}{test} is {status or 'in an unknown state'}, not enabled")
    unused = "; not used: AIMPAY_PAYMENTS=sandbox" if settings.sandbox else ""
    return Finding("yookassa", True, f"shop {account}{test}, enabled{unused}")


async def check_resend(settings: Settings) -> Finding:
    if settings.resend_api_key is None:
        if settings.email == "log":
            return Finding("resend", None, "AIMPAY_EMAIL=log: emails are written to the log")
        return Finding(
            "resend", None, "AIMPAY_RESEND_API_KEY not set (`serve` and `bot` need it with AIMPAY_EMAIL=resend)"
        )
    url = settings.resend_api_url.rstrip("/") + "/domains"
    headers = {"Authorization": f"Bearer {settings.resend_api_key.get_secret_value()}", "User-Agent": "aimpay"}
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, trust_env=False) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return Finding("resend", False, f"cannot reach Resend at {settings.resend_api_url}: {_reason(exc)}")
    try:
        body = response.json()
    except ValueError:
        body = None
    name = body.get("name") if isinstance(body, dict) else None
    if response.status_code == 401 and name == "restricted_api_key":
        return Finding(
            "resend", True, "the key may only send emails, so the domain of AIMPAY_EMAIL_FROM was not checked"
        )
    if response.status_code in (401, 403):
        return Finding(
            "resend", False, f"AIMPAY_RESEND_API_KEY: Resend refused the key (HTTP {response.status_code} {name or ''})"
        )
    if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return Finding("resend", False, f"Resend answered HTTP {response.status_code} to GET /domains")
    if not settings.email_from:
        return Finding("resend", False, "AIMPAY_EMAIL_FROM: not set (the address emails are sent from)")
    domain = parseaddr(settings.email_from)[1].rpartition("@")[2].lower()
    found = {str(d.get("name", "")).lower(): str(d.get("status", "")) for d in body["data"] if isinstance(d, dict)}
    if domain not in found:
        known = ", ".join(sorted(found)) or "none"
        return Finding(
            "resend", False, f"{domain} (of AIMPAY_EMAIL_FROM) is not a domain of this key (its domains: {known})"
        )
    if found[domain] != "verified":
        return Finding("resend", False, f"{domain} (of AIMPAY_EMAIL_FROM) is {found[domain]}, not verified")
    return Finding("resend", True, f"{domain} verified")


async def check_redis(settings: Settings) -> Finding:
    if not settings.redis_url:
        return Finding("redis", None)
    where = mask_url(settings.redis_url)
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure is one line
        return Finding("redis", False, f"AIMPAY_REDIS_URL: cannot reach {where}: {_reason(exc)}")
    finally:
        await client.aclose()
    return Finding("redis", True, f"{where} answers PING")


async def _bounded(service: str, probe: Awaitable[Finding]) -> Finding:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT + 2):
            return await probe
    except TimeoutError:
        return Finding(service, False, f"no answer within {PROBE_TIMEOUT + 2:g} s")


async def check(settings: Settings, out: Callable[[str], None] = print) -> int:
    """Reaches every configured service and prints one line for each; 0 when every configured
    one is OK, else 1."""
    findings = await asyncio.gather(
        _bounded("database", check_database(settings)),
        _bounded("telegram", check_telegram(settings)),
        _bounded("yookassa", check_yookassa(settings)),
        _bounded("resend", check_resend(settings)),
        _bounded("redis", check_redis(settings)),
    )
    for finding in findings:
        out(finding.line())
    return 1 if any(f.ok is False for f in findings) else 0
