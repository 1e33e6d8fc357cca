"""The message bus: handlers run in the recording transaction, in the registered order, follow-up
events after them, and a failing handler leaves nothing committed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from adapters.fakes.unit_of_work import InMemoryUnitOfWork, MemoryStore
from application.bus import MAX_EVENTS, MessageBus
from application.handlers import EVENT_HANDLERS, handler_classes
from application.ports.unit_of_work import UnitOfWork
from domain.events import DomainEvent
from domain.ids import TelegramId

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Happened(DomainEvent):
    n: int


@dataclass(frozen=True, slots=True)
class Followed(DomainEvent):
    n: int


class Recorder:
    def __init__(self, log: list[str], name: str, follow: bool = False, fail: bool = False) -> None:
        self.log, self.name, self.follow, self.fail = log, name, follow, fail

    async def __call__(self, event: DomainEvent, uow: UnitOfWork) -> Iterable[DomainEvent]:
        self.log.append(f"{self.name}:{type(event).__name__}:{event.n}")  # type: ignore[attr-defined]
        await uow.blacklist.add(TelegramId(1000 + len(self.log)), T0)  # a write in the same transaction
        if self.fail:
            raise RuntimeError("handler failed")
        return (Followed(event.n),) if self.follow else ()  # type: ignore[attr-defined]


class Source:
    def __init__(self, *events: DomainEvent) -> None:
        self.events = list(events)

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events


async def test_handlers_run_in_order_and_follow_ups_after_them_then_commit() -> None:
    log: list[str] = []
    bus = MessageBus({Happened: [Recorder(log, "a", follow=True), Recorder(log, "b")], Followed: [Recorder(log, "c")]})
    store = MemoryStore()
    source = Source(Happened(1), Happened(2))
    async with InMemoryUnitOfWork(store) as uow:
        await bus.commit(uow, source)
    assert log == [
        "a:Happened:1",
        "b:Happened:1",
        "a:Happened:2",
        "b:Happened:2",
        "c:Followed:1",
        "c:Followed:2",
    ]
    assert len(store.state.blacklist) == 6 and store.commits == 1
    assert source.events == []  # pulled


async def test_a_failing_handler_leaves_nothing_committed() -> None:
    log: list[str] = []
    bus = MessageBus({Happened: [Recorder(log, "a"), Recorder(log, "b", fail=True)]})
    store = MemoryStore()
    with pytest.raises(RuntimeError):
        async with InMemoryUnitOfWork(store) as uow:
            await bus.commit(uow, Source(Happened(1)))
    assert store.state.blacklist == {} and store.commits == 0


async def test_an_event_without_handlers_is_just_committed() -> None:
    store = MemoryStore()
    async with InMemoryUnitOfWork(store) as uow:
        await MessageBus({}).commit(uow, Source(Happened(1)))
    assert store.commits == 1


async def test_a_handler_loop_is_stopped() -> None:
    class Echo:
        async def __call__(self, event: Happened, uow: UnitOfWork) -> Iterable[DomainEvent]:
            return (Happened(event.n + 1),)

    store = MemoryStore()
    with pytest.raises(RuntimeError, match=str(MAX_EVENTS)):
        async with InMemoryUnitOfWork(store) as uow:
            await MessageBus({Happened: [Echo()]}).commit(uow, Source(Happened(0)))
    assert store.commits == 0


def test_the_registry_lists_each_handler_class_once_and_only_domain_events() -> None:
    assert all(issubclass(event, DomainEvent) for event in EVENT_HANDLERS)
    classes = handler_classes()
    assert len(classes) == len(set(classes))
    assert all(callable(cls) for cls in classes)
