from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from application.delivery import OutboxDispatcher
from application.ports.messaging import DeliveryDeferred, DeliveryError
from application.ports.readers import OutboxReader
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork
from domain.outbox import OutboxKind, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 50  # with the backoff cap of 10 minutes: about 7 hours of trying
LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one run did, per outbox kind: messages delivered, deferred (paced: no attempt
    counted), and failed (an attempt that failed; ``given_up``: of those, the ones that will not
    be tried again). ``delivered`` is the total, the number the worker loop goes on by."""

    delivered_by_kind: Mapping[OutboxKind, int] = field(default_factory=dict)
    deferred_by_kind: Mapping[OutboxKind, int] = field(default_factory=dict)
    failed_by_kind: Mapping[OutboxKind, int] = field(default_factory=dict)
    given_up_by_kind: Mapping[OutboxKind, int] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return sum(self.delivered_by_kind.values())

    @property
    def deferred(self) -> int:
        return sum(self.deferred_by_kind.values())

    @property
    def failed(self) -> int:
        return sum(self.failed_by_kind.values())


class DeliverOutbox:
    """Delivers the messages that are due, one attempt each, through the handler registered for
    the message's kind (``application.delivery.OUTBOX_HANDLERS``), and records the outcome:
    delivered (with the follow-ups the handler returned, in one transaction), to be tried again
    later (backoff), or given up on after a permanent error. A handler that says "not now"
    (``DeliveryDeferred``: a rate limit) has the message deferred by the time it names, with no
    attempt counted; the next message, to another recipient, is tried at once.

    What this promises, channel by channel: an email carries the message key as its idempotency
    key, so a crash or a lost answer after the provider accepted it sends no second email.
    Telegram has no idempotency key: a message is marked delivered right after Telegram accepted
    it, and if the process dies in between, or Telegram's answer is lost, the message is sent
    again. Telegram messages are delivered **at least once**, not exactly once.

    Several workers may run: a claimed message is held by one of them for ``LEASE``."""

    def __init__(self, uow: UnitOfWork, dispatch: OutboxDispatcher, clock: Clock, pending: OutboxReader) -> None:
        self._uow = uow
        self._dispatch = dispatch
        self._clock = clock
        self._pending = pending

    async def __call__(self, limit: int = 50) -> DeliveryReport:
        """Says what it did (``DeliveryReport.delivered``: how many messages were delivered)."""
        if not await self._pending.has_due(self._clock.now()):
            return DeliveryReport()
        async with self._uow as uow:
            due = list(await uow.outbox.claim_due(self._clock.now(), limit, LEASE))
            await uow.commit()
        delivered: Counter[OutboxKind] = Counter()
        deferred: Counter[OutboxKind] = Counter()
        failed: Counter[OutboxKind] = Counter()
        given_up: Counter[OutboxKind] = Counter()
        for message in due:
            try:
                follow_ups = await self._dispatch(message)
            except DeliveryDeferred as exc:  # not tried: paced; no attempt is counted
                message.defer(self._clock.now() + timedelta(seconds=exc.after))
                log.debug("outbox %s (%s) deferred by %.3f s: %s", message.key, message.kind, exc.after, exc)
                await self._save(message)
                deferred[message.kind] += 1
            except DeliveryError as exc:
                message.failed(self._clock.now(), str(exc), permanent=exc.permanent, max_attempts=MAX_ATTEMPTS)
                log.warning("outbox %s (%s) attempt %d failed: %s", message.key, message.kind, message.attempts, exc)
                await self._save(message)
                failed[message.kind] += 1
                if message.failed_at is not None:
                    given_up[message.kind] += 1
            except Exception as exc:
                message.failed(self._clock.now(), repr(exc), permanent=False, max_attempts=MAX_ATTEMPTS)
                log.exception("outbox %s (%s) attempt %d broke", message.key, message.kind, message.attempts)
                await self._save(message)
                failed[message.kind] += 1
                if message.failed_at is not None:
                    given_up[message.kind] += 1
            else:
                message.delivered(self._clock.now())
                await self._save(message, *follow_ups)
                delivered[message.kind] += 1
        return DeliveryReport(dict(delivered), dict(deferred), dict(failed), dict(given_up))

    async def _save(self, message: OutboxMessage, *follow_ups: OutboxMessage) -> None:
        async with self._uow as uow:
            for follow_up in follow_ups:
                await uow.outbox.put(follow_up)
            await uow.outbox.save(message)
            await uow.commit()
