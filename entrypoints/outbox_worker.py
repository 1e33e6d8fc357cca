"""Delivers the outbox in the background of every process (``serve``, ``bot``, ``demo``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dishka import AsyncContainer

from application.use_cases.deliver_outbox import DeliverOutbox, DeliveryReport
from entrypoints.http.metrics import Metrics, metrics_of

log = logging.getLogger(__name__)


class OutboxWorker:
    """Polls every ``interval`` seconds, and at once when ``wake()`` is called after a commit
    that queued messages. A failing run is logged and retried on the next tick: the messages stay
    in the database, so nothing is lost while Telegram, Resend or the database are away. What each
    run did goes into the container's ``Metrics`` (when it has them)."""

    def __init__(self, container: AsyncContainer, interval: float = 1.0, batch: int = 50) -> None:
        self._container = container
        self._interval = interval
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()  # set whenever a run found nothing left to deliver

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> DeliveryReport:
        async with self._container() as request:
            deliver = await request.get(DeliverOutbox)
            return await deliver(self._batch)

    async def _loop(self) -> None:
        metrics: Metrics | None = await metrics_of(self._container)
        while True:
            self._wake.clear()
            try:
                report = await self.run_once()
            except Exception:  # the loop must outlive any single failure
                log.exception("outbox delivery run failed; retrying")
                if metrics is not None:
                    metrics.count_outbox_run_error()
                delivered = 0
            else:
                if metrics is not None:
                    metrics.record_delivery(report)
                delivered = report.delivered
            if delivered:  # delivering may queue more (an invite queues its Telegram and email messages)
                continue
            self.idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self.idle.clear()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="outbox-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
