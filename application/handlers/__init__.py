"""What each domain event causes, in one place.

Each handler is a class whose constructor takes what it needs (the composition root builds it)
and whose ``__call__(event, uow)`` reacts inside the transaction that recorded the event. To add
a reaction, write a handler and list it here; the use case that records the event does not change.
Handlers run in the order listed.
"""

from __future__ import annotations

from collections.abc import Mapping

from application.handlers.course import AlertAdminsOfSharedLink
from application.handlers.purchases import (
    AlertAdminsOfMismatch,
    AskAdminsToRefundDuplicate,
    GrantAccessOnPayment,
    TellAdminsOfSale,
    TellBuyerPaymentCanceled,
)
from application.handlers.referrals import CreditReferrer, TellReferrerOfCredit
from domain.events import (
    CourseLinkPassedOn,
    DomainEvent,
    DuplicatePaymentReceived,
    PaymentMismatched,
    PurchaseCanceled,
    PurchasePaid,
    ReferralCredited,
)

EVENT_HANDLERS: Mapping[type[DomainEvent], tuple[type, ...]] = {
    PurchasePaid: (GrantAccessOnPayment, CreditReferrer, TellAdminsOfSale),
    DuplicatePaymentReceived: (AskAdminsToRefundDuplicate,),
    PurchaseCanceled: (TellBuyerPaymentCanceled,),
    PaymentMismatched: (AlertAdminsOfMismatch,),
    ReferralCredited: (TellReferrerOfCredit,),
    CourseLinkPassedOn: (AlertAdminsOfSharedLink,),
}


def handler_classes() -> tuple[type, ...]:
    """Every handler class, once each (for the composition root to build)."""
    seen: dict[type, None] = {}
    for classes in EVENT_HANDLERS.values():
        seen.update(dict.fromkeys(classes))
    return tuple(seen)
