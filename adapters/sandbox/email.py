"""Emails written to the log instead of sent."""

from __future__ import annotations

import logging
from collections import OrderedDict

from application.ports.messaging import DeliveryError, EmailSender, OutgoingEmail

log = logging.getLogger(__name__)

_REMEMBERED = 10_000  # idempotency keys kept (the outbox never repeats an old, delivered one)


class LogEmailSender(EmailSender):
    """``EmailSender`` that logs the recipient, the subject and the text at INFO, once per
    idempotency key (a repeat, after a lost answer say, logs nothing), and sends nothing."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def send(self, email: OutgoingEmail, idempotency_key: str) -> None:
        if not idempotency_key:
            raise DeliveryError("an email needs a non-empty idempotency key", permanent=True)
        if idempotency_key in self._seen:
            return
        self._seen[idempotency_key] = None
        while len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)
        log.info("email to %s (AIMPAY_EMAIL=log: written here, not sent): %s\n%s", email.to, email.subject, email.text)
