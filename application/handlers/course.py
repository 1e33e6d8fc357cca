"""Reactions about the course chat."""

from __future__ import annotations

from collections.abc import Iterable

from application.notices import LinkSharedNotice
from application.ports.unit_of_work import UnitOfWork
from application.services.outbox import OutboxWriter
from domain.events import CourseLinkPassedOn, DomainEvent
from domain.outbox import link_passed_on_notice_key


class AlertAdminsOfSharedLink:
    def __init__(self, outbox: OutboxWriter) -> None:
        self._outbox = outbox

    async def __call__(self, event: CourseLinkPassedOn, uow: UnitOfWork) -> Iterable[DomainEvent]:
        owner = await uow.customers.get(event.owner_id)
        notice = LinkSharedNotice(
            telegram_id=event.joiner.value,
            owner=owner.display_name if owner is not None else "?",
            owner_id=str(owner.telegram_id) if owner is not None else "?",
        )
        await self._outbox.to_admins(uow, link_passed_on_notice_key(event.grant_id, event.joiner), notice)
        return ()
