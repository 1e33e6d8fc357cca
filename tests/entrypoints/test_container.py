"""The composition root builds every registered reaction and outbox handler from what it offers."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sql.migrate import upgrade_to_head
from application.bus import MessageBus
from application.delivery import OutboxDispatcher
from application.handlers import EVENT_HANDLERS
from domain.outbox import OutboxKind
from entrypoints.config import load_settings
from entrypoints.container import make_container
from entrypoints.wiring import WiringError, build


async def test_the_offline_container_builds_the_bus_and_the_dispatcher(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'aimpay.db'}"
    await upgrade_to_head(url)
    container = make_container(load_settings(database_url=url), offline=True)
    try:
        bus = await container.get(MessageBus)
        for event, classes in EVENT_HANDLERS.items():
            assert [type(h) for h in bus.handlers_of(event)] == list(classes)
        async with container() as request:
            dispatcher = await request.get(OutboxDispatcher)
            assert set(dispatcher.kinds) == set(OutboxKind)  # every kind has its handler
    finally:
        await container.close()


class NeedsAThing:
    def __init__(self, thing: int, optional: str = "x") -> None:
        self.thing, self.optional = thing, optional


def test_build_fills_the_constructor_from_the_parts_by_type() -> None:
    built = build(NeedsAThing, {int: 7})
    assert (built.thing, built.optional) == (7, "x")
    assert build(NeedsAThing, {int: 7, str: "y"}).optional == "y"


def test_build_names_a_part_nobody_offers() -> None:
    with pytest.raises(WiringError, match="NeedsAThing needs thing"):
        build(NeedsAThing, {str: "y"})
