"""The message bus: domain events handled inside the transaction that recorded them.

``EVENT_HANDLERS`` (``application.handlers``) names, in one place, what each event causes. A use
case that changes aggregates ends with ``await bus.commit(uow, *aggregates)``: the events the
aggregates recorded are handled one by one (a handler may return further events, handled after
it), every handler working in the same unit of work, and then the transaction commits. If any
handler fails, nothing is committed: a state change and its consequences land together or not
at all. What leaves the process is never done by a handler directly; it queues an outbox
message, delivered after the commit.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from application.ports.unit_of_work import UnitOfWork
from domain.events import DomainEvent

log = logging.getLogger(__name__)

MAX_EVENTS = 1000  # per transaction: a handler loop that never ends is a bug, not a workload


class EventHandler(Protocol):
    async def __call__(self, event: Any, uow: UnitOfWork) -> Iterable[DomainEvent]:
        """Reacts to ``event`` within ``uow``'s transaction; returns further events (often none)."""
        ...


class RecordsEvents(Protocol):
    def pull_events(self) -> list[DomainEvent]: ...


class MessageBus:
    def __init__(self, handlers: Mapping[type[DomainEvent], Sequence[EventHandler]]) -> None:
        self._handlers = {event: tuple(found) for event, found in handlers.items()}

    def handlers_of(self, event: type[DomainEvent]) -> tuple[EventHandler, ...]:
        return self._handlers.get(event, ())

    async def publish(self, uow: UnitOfWork, events: Iterable[DomainEvent]) -> int:
        """Handles ``events`` and whatever they cause, in order; returns how many were handled."""
        queue: deque[DomainEvent] = deque(events)
        handled = 0
        while queue:
            event = queue.popleft()
            handled += 1
            if handled > MAX_EVENTS:
                raise RuntimeError(f"more than {MAX_EVENTS} events in one transaction: a handler loop?")
            for handler in self.handlers_of(type(event)):
                queue.extend(await handler(event, uow))
            log.debug("handled %s", type(event).__name__)
        return handled

    async def commit(self, uow: UnitOfWork, *sources: RecordsEvents) -> None:
        """Handles the events the ``sources`` recorded, then commits ``uow``."""
        events = [event for source in sources for event in source.pull_events()]
        await self.publish(uow, events)
        await uow.commit()
