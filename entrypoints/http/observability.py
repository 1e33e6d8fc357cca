"""What the HTTP app tells about itself: a request id for every request, one access line per
request, the HTTP metrics and ``GET /metrics``.

``create_app`` adds ``middleware(container)`` and ``routes()`` to its app. The middleware:

- takes the request id from the caller's ``X-Request-Id`` when it is a sane token, or makes one
  up; every line logged while the request is handled carries it (``entrypoints.logs``), the
  use cases' included, and the response returns it in ``X-Request-Id``;
- writes one access line per request (logger ``aimpay.access``: method, path, status, duration
  in ms, client; the client named by a trusted proxy's ``X-Forwarded-For`` when there is one);
- counts the request and its duration by route template (``/demo/checkout/{payment_id}``, never
  the raw path) and status class, and a YooKassa notification by what the handler answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

from dishka import AsyncContainer
from dishka.exceptions import NoFactoryError
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.http.client_address import SourcePolicy
from entrypoints.http.metrics import UNMATCHED, Metrics, metrics_endpoint, metrics_of
from entrypoints.logs import ACCESS_LOGGER, REQUEST_ID, adopt_uvicorn_loggers, begin_request, is_configured

access_log = logging.getLogger(ACCESS_LOGGER)

YOOKASSA_ROUTE = "/webhooks/yookassa"
_OUTCOME = re.compile(r"^[a-z_]{1,32}$")
_REFUSALS = {400: "malformed", 403: "forbidden_source", 413: "too_large", 500: "error"}
_KEEP_BODY = 4096  # of a YooKassa answer, to read its outcome (the answers are a few dozen bytes)


def middleware(container: AsyncContainer) -> list[Middleware]:
    return [Middleware(ObservabilityMiddleware, container=container)]


def routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics_endpoint, methods=["GET"])]


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (set by Starlette's router), or ``unmatched``."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def notification_outcome(status: int, body: bytes) -> str:
    """What the YooKassa webhook's answer says happened: the ``outcome`` of a 200, or why it
    refused (the reason's name, by status; a 503's by its error)."""
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if status == 200:
        outcome = answer.get("outcome")
        return outcome if isinstance(outcome, str) and _OUTCOME.match(outcome) else "unknown"
    if status == 503:
        return "provider_refused" if "refused" in str(answer.get("error", "")) else "provider_unreachable"
    return _REFUSALS.get(status, f"http_{status}")


class ObservabilityMiddleware:
    """A pure ASGI middleware (a contextvar it sets is seen by the endpoint it calls)."""

    def __init__(self, app: ASGIApp, container: AsyncContainer) -> None:
        self.app = app
        self._container = container
        self._resolved = False
        self._metrics: Metrics | None = None
        self._sources: SourcePolicy | None = None

    async def _resolve(self) -> None:
        if self._resolved:
            return
        self._metrics = await metrics_of(self._container)
        try:
            self._sources = await self._container.get(SourcePolicy)
        except NoFactoryError:
            self._sources = None
        self._resolved = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            if is_configured():  # uvicorn gave its loggers handlers of its own when its server was made
                adopt_uvicorn_loggers()
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._resolve()
        tag, token = begin_request(Headers(scope=scope).get("x-request-id"))
        started = time.perf_counter()
        status: int | None = None
        body: bytearray | None = None

        async def send_observed(message: Message) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append("x-request-id", tag.id)
                if route_template(scope) == YOOKASSA_ROUTE:
                    body = bytearray()
            elif message["type"] == "http.response.body" and body is not None and len(body) < _KEEP_BODY:
                body += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except asyncio.CancelledError:  # the server gave up on it (the client went away, or a shutdown)
            self._finish(scope, status or 499, time.perf_counter() - started, bytes(body or b""))
            raise
        except BaseException:
            # The id stays set: uvicorn's report of the exception, in this same task, carries it.
            self._finish(scope, status or 500, time.perf_counter() - started, bytes(body or b""))
            raise
        self._finish(scope, status or 500, time.perf_counter() - started, bytes(body or b""))
        REQUEST_ID.reset(token)

    def _finish(self, scope: Scope, status: int, seconds: float, body: bytes) -> None:
        route = route_template(scope)
        method = scope["method"]
        if self._metrics is not None:
            self._metrics.observe_request(route, method, status, seconds)
            if route == YOOKASSA_ROUTE and method == "POST":
                self._metrics.count_notification(notification_outcome(status, body), status)
        if access_log.isEnabledFor(logging.INFO):
            peer = scope["client"][0] if scope.get("client") else None
            client = peer
            if self._sources is not None:
                address = self._sources.client(peer, Headers(scope=scope).get("x-forwarded-for"))
                client = str(address) if address is not None else peer
            milliseconds = round(seconds * 1000, 1)
            access_log.info(
                "%s %s %d %.1f ms %s",
                method,
                scope["path"],
                status,
                milliseconds,
                client or "-",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": milliseconds,
                    "client": client,
                },
            )
