"""What aimpay shows Prometheus at ``GET /metrics`` (text format), and the one place its metrics
are made.

``Metrics`` holds every metric in a registry of its own (not prometheus_client's global one), so
each container, and so each app, has its own: tests build several. The composition root
provides one per container (``Scope.APP``); the HTTP middleware, the outbox worker, the bot's
throttling and the Telegram notifier (through its ``on_flood`` callback) record into it. A
container without it records nothing and serves no ``/metrics``.

``/metrics`` answers only with ``Authorization: Bearer <AIMPAY_METRICS_TOKEN>`` (compared in
constant time: 401 otherwise) and is absent (404) while no token is set. The counts that live in
the database (purchases by status, the outbox's backlog) are read when Prometheus asks."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from dishka import AsyncContainer
from dishka.exceptions import NoFactoryError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from application.ports.readers import OutboxBacklog, OutboxReader, PurchaseStatsReader
from application.ports.system import Clock
from application.use_cases.deliver_outbox import DeliveryReport
from domain.outbox import OutboxKind
from domain.purchase import PurchaseStatus
from entrypoints.config import Settings

log = logging.getLogger(__name__)

UNMATCHED = "unmatched"  # the route label of a request no route matched (its raw path is not a label)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the database said at the last scrape (``None``: it could not be read)."""

    now: datetime
    purchases: Mapping[PurchaseStatus, int] | None
    backlog: OutboxBacklog | None


class Metrics:
    """Every metric of one app. The recording methods are cheap and never raise."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "aimpay_http_requests",
            "HTTP requests answered, by route template, method and status class",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "aimpay_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"],
            registry=r,
        )
        self.yookassa_notifications = Counter(
            "aimpay_yookassa_notifications",
            "YooKassa notifications by outcome (what the handler answered: paid, unchanged, ...; or why it"
            " refused: forbidden_source, malformed, too_large, provider_unreachable, provider_refused, error)"
            " and HTTP status",
            ["outcome", "status"],
            registry=r,
        )
        self.outbox_delivered = Counter(
            "aimpay_outbox_delivered", "Outbox messages delivered, by kind", ["kind"], registry=r
        )
        self.outbox_deferred = Counter(
            "aimpay_outbox_deferred",
            "Outbox messages deferred by pacing (no attempt counted), by kind",
            ["kind"],
            registry=r,
        )
        self.outbox_failures = Counter(
            "aimpay_outbox_delivery_failures",
            "Failed outbox delivery attempts, by kind (channel)",
            ["kind"],
            registry=r,
        )
        self.outbox_given_up = Counter(
            "aimpay_outbox_given_up",
            "Outbox messages given up on (a permanent error or too many attempts), by kind",
            ["kind"],
            registry=r,
        )
        self.outbox_run_errors = Counter(
            "aimpay_outbox_run_errors", "Outbox worker runs that broke off (and were retried)", registry=r
        )
        self.throttled_updates = Counter(
            "aimpay_bot_throttled_updates",
            "Bot updates over a user's rate limit: warn (the one warned) and drop (ignored)",
            ["verdict"],
            registry=r,
        )
        self.telegram_floods = Counter(
            "aimpay_telegram_flood_waits", "Telegram's 429 answers (flood control) to what the outbox sent", registry=r
        )
        self.telegram_flood_seconds = Counter(
            "aimpay_telegram_flood_wait_seconds",
            "Seconds Telegram's 429 answers asked us to wait, added up",
            registry=r,
        )
        for kind in OutboxKind:
            for counter in (self.outbox_delivered, self.outbox_deferred, self.outbox_failures, self.outbox_given_up):
                counter.labels(kind=kind.value)
        for verdict in ("warn", "drop"):
            self.throttled_updates.labels(verdict=verdict)
        self._stored: _Stored | None = None
        r.register(_StoredCollector(self))

    # --- recording ------------------------------------------------------------------------------

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self.http_requests.labels(route=route, method=method, status=f"{status // 100}xx").inc()
        self.http_duration.labels(route=route, method=method).observe(seconds)

    def count_notification(self, outcome: str, status: int) -> None:
        self.yookassa_notifications.labels(outcome=outcome, status=str(status)).inc()

    def record_delivery(self, report: DeliveryReport) -> None:
        for counter, counts in (
            (self.outbox_delivered, report.delivered_by_kind),
            (self.outbox_deferred, report.deferred_by_kind),
            (self.outbox_failures, report.failed_by_kind),
            (self.outbox_given_up, report.given_up_by_kind),
        ):
            for kind, count in counts.items():
                counter.labels(kind=kind.value).inc(count)

    def count_outbox_run_error(self) -> None:
        self.outbox_run_errors.inc()

    def count_throttled(self, verdict: str) -> None:
        self.throttled_updates.labels(verdict=verdict).inc()

    def telegram_flood(self, retry_after: float) -> None:
        """``TelegramNotifier``'s ``on_flood``: Telegram answered 429 and asked for ``retry_after`` s."""
        self.telegram_floods.inc()
        self.telegram_flood_seconds.inc(max(0.0, float(retry_after)))

    # --- scraping -------------------------------------------------------------------------------

    async def read_database(
        self, now: datetime, outbox: OutboxReader, purchases: PurchaseStatsReader | None = None
    ) -> None:
        """Reads the counts kept in the database for the next ``render``. A count that cannot be
        read is left out (and logged) rather than shown stale."""
        counts: Mapping[PurchaseStatus, int] | None = None
        backlog: OutboxBacklog | None = None
        try:
            if purchases is not None:
                counts = await purchases.purchases_by_status()
            backlog = await outbox.backlog(now)
        except Exception as exc:  # noqa: BLE001 - the other metrics are still worth serving
            log.warning("metrics: the database could not be read: %s: %s", type(exc).__name__, exc)
        self._stored = _Stored(now, counts, backlog)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoredCollector(Collector):
    """The database's counts as of the last ``read_database``, as gauges."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        stored = self._metrics._stored
        if stored is None:
            return
        if stored.purchases is not None:
            purchases = GaugeMetricFamily("aimpay_purchases", "Purchases by status", labels=["status"])
            for status in PurchaseStatus:
                purchases.add_metric([status.value], stored.purchases.get(status, 0))
            yield purchases
        if stored.backlog is not None:
            backlog = stored.backlog
            yield GaugeMetricFamily(
                "aimpay_outbox_pending", "Outbox messages neither delivered nor given up on", value=backlog.pending
            )
            yield GaugeMetricFamily("aimpay_outbox_due", "Of those, the ones due now", value=backlog.due)
            yield GaugeMetricFamily(
                "aimpay_outbox_oldest_due_age_seconds",
                "How long the longest-waiting due outbox message has been due (0: none is)",
                value=backlog.oldest_due_age(stored.now),
            )


async def metrics_of(container: AsyncContainer) -> Metrics | None:
    """The container's ``Metrics``; ``None`` if it provides none."""
    try:
        return await container.get(Metrics)
    except NoFactoryError:
        return None


def metrics_token(settings: Settings) -> str | None:
    """``AIMPAY_METRICS_TOKEN``, or ``None`` when unset."""
    value = getattr(settings, "metrics_token", None)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value or None


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether ``authorization`` is ``Bearer <token>``, compared in constant time (as digests, so
    not even the length is told)."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    digest = hashlib.sha256(given.strip().encode()).digest()
    return hmac.compare_digest(digest, hashlib.sha256(token.encode()).digest())


async def metrics_endpoint(request: Request) -> Response:
    container: AsyncContainer = request.app.state.dishka_container
    token = metrics_token(await container.get(Settings))
    metrics = await metrics_of(container) if token is not None else None
    if token is None or metrics is None:
        return PlainTextResponse("Not Found", status_code=404)
    if not bearer_matches(request.headers.get("authorization"), token):
        return PlainTextResponse(
            "Unauthorized", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    try:
        purchases: PurchaseStatsReader | None = await container.get(PurchaseStatsReader)
    except NoFactoryError:
        purchases = None
    clock = await container.get(Clock)
    await metrics.read_database(clock.now(), await container.get(OutboxReader), purchases)
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
