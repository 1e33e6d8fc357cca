"""Access to the course: a one-time invite link to the course chat, issued to a paying customer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import InvalidValue
from domain.events import CourseLinkPassedOn, DomainEvent
from domain.ids import AccessGrantId, CustomerId, PurchaseId, TelegramId


@dataclass(slots=True)
class AccessGrant:
    """One invite link given to one buyer. A new one revokes the previous, so links cannot be
    collected and handed out."""

    id: AccessGrantId
    purchase_id: PurchaseId
    customer_id: CustomerId
    invite_link: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.invite_link:
            raise InvalidValue("an access grant needs an invite link")
        if self.expires_at <= self.issued_at:
            raise InvalidValue("an invite link expires after it is issued")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self, at: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        self.revoked_at = at
        return True

    def passed_on(self, joiner: TelegramId) -> None:
        """Somebody who may not be in the course chat joined by this link."""
        self.events.append(CourseLinkPassedOn(self.id, self.customer_id, joiner))

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events
