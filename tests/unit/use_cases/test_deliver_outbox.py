import asyncio
import logging
from datetime import timedelta
from uuid import UUID

import pytest

from adapters.fakes.gateways import RecordingNotifier
from application.notices import Notice
from application.ports.messaging import DeliveryDeferred, LinkButton
from application.services.outbox import OutboxWriter
from application.use_cases.deliver_outbox import LEASE, MAX_ATTEMPTS
from domain.customer import Language
from domain.email import Email
from domain.ids import OutboxMessageId, TelegramId
from domain.outbox import OutboxKind, OutboxMessage, retry_delay
from tests.unit.harness import ADMIN, Harness

BUYER = TelegramId(2)


async def _paid_referred(h: Harness, email: str = "Buyer@Example.com") -> None:
    referrer = await h.start(1)
    await h.start(2, referrer.customer.referral_code.value, lang="en")
    await h.pay(2, email)


def _grant(h: Harness) -> OutboxMessage:
    """The one message that issues the buyer's link."""
    [m] = h.outbox_messages(OutboxKind.GRANT_ACCESS)
    return m


def _telegram_to(h: Harness, telegram_id: TelegramId) -> OutboxMessage:
    """The one Telegram message queued for ``telegram_id``."""
    [m] = [m for m in h.outbox_messages(OutboxKind.TELEGRAM_NOTICE) if m.payload["telegram_id"] == telegram_id.value]
    return m


def _email(h: Harness) -> OutboxMessage:
    [m] = h.outbox_messages(OutboxKind.EMAIL_NOTICE)
    return m


async def test_delivers_everything_once() -> None:
    h = Harness()
    await _paid_referred(h)
    delivered = await h.deliver_all()
    assert delivered == 5  # grant, referrer note, admin note, then the buyer's Telegram message and email

    [(link, invite)] = h.course.invites.items()
    assert invite.expires_at == h.clock.now() + h.terms.invite_ttl
    [to_buyer] = h.notifier.to(BUYER)
    assert link in to_buyer.text
    expires = invite.expires_at.strftime("%Y-%m-%d %H:%M")
    assert to_buyer.text == h.render(
        Language.EN, "access.granted", title=h.terms.course_title, link=link, expires=expires
    )
    assert to_buyer.buttons == (LinkButton(h.render(Language.EN, "button.join"), link),)
    assert len(h.notifier.to(TelegramId(1))) == 1 and len(h.notifier.to(ADMIN)) == 1

    [(key, email)] = h.email.sent.items()
    assert key == _email(h).key  # the outbox message's key is the idempotency key
    assert email.to == Email("Buyer@example.com")
    assert h.terms.course_title in email.subject
    assert link in email.text
    assert f'<a href="{link}">{link}</a>' in email.html
    assert all(m.delivered_at is not None and m.failed_at is None for m in h.store.state.outbox.values())
    [grant] = h.store.state.grants.values()
    assert grant.invite_link == link and not grant.is_revoked
    assert await h.deliver_all() == 0
    assert len(h.notifier.sent) == 3 and h.email.calls == 1 and len(h.course.invites) == 1


async def test_telegram_down_is_retried_with_backoff_and_nothing_is_lost() -> None:
    h = Harness()
    await _paid_referred(h)
    h.notifier.available = False
    assert await h.deliver_all() == 2  # the grant and the email; every Telegram message waits
    assert h.notifier.sent == [] and len(h.email.sent) == 1
    buyer_msg = _telegram_to(h, BUYER)
    assert buyer_msg.attempts == 1 and buyer_msg.next_attempt_at == h.clock.now() + retry_delay(1)

    h.clock.advance(retry_delay(1))
    assert await h.deliver_all() == 0  # still down: the second try is scheduled further out
    buyer_msg = _telegram_to(h, BUYER)
    assert buyer_msg.attempts == 2 and buyer_msg.next_attempt_at == h.clock.now() + retry_delay(2)
    assert buyer_msg.failed_at is None

    h.notifier.available = True
    assert await h.deliver_all() == 0  # not due yet
    h.clock.advance(retry_delay(2))
    assert await h.deliver_all() == 3
    assert len(h.notifier.to(BUYER)) == 1 and len(h.notifier.sent) == 3
    assert all(m.delivered_at is not None for m in h.store.state.outbox.values())


async def test_email_down_then_up_sends_exactly_one_email() -> None:
    h = Harness()
    await _paid_referred(h)
    h.email.available = False
    await h.deliver_all()
    assert h.email.sent == {} and h.email.calls == 1
    h.email.available = True
    for _ in range(3):
        h.clock.advance(timedelta(minutes=10))
        await h.deliver_all()
    assert len(h.email.sent) == 1 and h.email.calls == 2
    assert _email(h).delivered_at is not None


async def test_permanent_error_gives_up_and_other_messages_still_go() -> None:
    h = Harness()
    await _paid_referred(h)
    h.notifier.blocked.add(BUYER)
    await h.deliver_all()
    buyer_msg = _telegram_to(h, BUYER)
    assert buyer_msg.failed_at is not None and buyer_msg.attempts == 1 and "blocked" in (buyer_msg.last_error or "")
    h.notifier.blocked.clear()
    h.clock.advance(timedelta(days=1))
    await h.deliver_all()
    assert _telegram_to(h, BUYER).attempts == 1  # never tried again
    assert h.notifier.to(BUYER) == []
    assert len(h.email.sent) == 1 and len(h.notifier.to(ADMIN)) == 1 and len(h.notifier.to(TelegramId(1))) == 1


async def test_gives_up_after_max_attempts() -> None:
    h = Harness()
    await h.start(2)
    await h.pay(2)
    h.notifier.available = False
    for _ in range(MAX_ATTEMPTS + 5):
        await h.deliver_all()
        h.clock.advance(timedelta(minutes=10))
    admin_note = _telegram_to(h, ADMIN)
    assert admin_note.attempts == MAX_ATTEMPTS and admin_note.failed_at is not None


class GatedNotifier(RecordingNotifier):
    """Holds every send until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def send_message(self, telegram_id: TelegramId, text: str, buttons: tuple[LinkButton, ...] = ()) -> None:
        self.entered.set()
        await self.gate.wait()
        await super().send_message(telegram_id, text, buttons)


async def test_a_claimed_message_is_not_delivered_by_a_concurrent_run() -> None:
    notifier = GatedNotifier()
    h = Harness(notifier=notifier)
    await h.start(2)
    await h.pay(2)
    notifier.gate.set()
    await h.deliver()()  # the grant and the admin note; queues the buyer's Telegram message and email
    notifier.gate.clear()
    notifier.entered.clear()

    first = asyncio.create_task(h.deliver()())
    await notifier.entered.wait()  # the first run holds both messages and is sending
    assert (await h.deliver()()).delivered == 0
    assert (await h.deliver()()).delivered == 0
    notifier.gate.set()
    assert (await first).delivered == 2
    assert await h.deliver_all() == 0
    assert len(h.notifier.to(BUYER)) == 1 and h.email.calls == 1


async def test_concurrent_runs_split_the_work_without_duplicates() -> None:
    h = Harness()
    for buyer in (2, 3, 4):
        await h.start(buyer)
        await h.pay(buyer)
    results = await asyncio.gather(*(h.deliver()(limit=2) for _ in range(4)))
    results += await asyncio.gather(*(h.deliver()(limit=2) for _ in range(4)))
    total = sum(r.delivered for r in results) + await h.deliver_all()
    assert total == len(h.store.state.outbox) == 12  # per buyer: grant, admin note, Telegram message, email
    assert len(h.course.invites) == 3 and len(h.email.sent) == 3 and h.email.calls == 3
    assert len(h.notifier.sent) == 6
    assert sorted(m.telegram_id.value for m in h.notifier.sent if m.telegram_id != ADMIN) == [2, 3, 4]


class StallingWriter(OutboxWriter):
    """Stalls right after the invite link was made, before the step is recorded."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.stalled = asyncio.Event()

    def telegram_notice(self, key: str, to: TelegramId, language: Language, notice: Notice) -> OutboxMessage:
        self.stalled.set()
        raise asyncio.CancelledError  # as if the worker were killed here


async def test_grant_delivered_twice_makes_one_invite_link() -> None:
    h = Harness()
    await h.start(2)
    await h.pay(2)
    writer = StallingWriter(h.clock, h.ids, h.policy)
    with pytest.raises(asyncio.CancelledError):  # killed after the link was made, before the step is recorded
        await h.deliver(writer)()
    assert writer.stalled.is_set()
    [link] = h.course.invites
    assert _grant(h).delivered_at is None
    assert await h.deliver_all() == 0  # still held by the dead worker's claim
    h.clock.advance(LEASE)
    await h.deliver_all()
    assert list(h.course.invites) == [link]
    [to_buyer] = h.notifier.to(BUYER)
    assert link in to_buyer.text
    [email] = h.email.sent.values()
    assert link in email.text
    assert len(h.store.state.grants) == 1


async def test_course_down_retries_the_grant_and_then_makes_one_link() -> None:
    h = Harness()
    await h.start(2)
    await h.pay(2)
    h.course.available = False
    await h.deliver_all()
    assert h.course.invites == {} and h.store.state.grants == {}
    assert _grant(h).attempts == 1 and _grant(h).failed_at is None
    h.course.available = True
    h.clock.advance(retry_delay(1))
    await h.deliver_all()
    assert len(h.course.invites) == 1 and len(h.notifier.to(BUYER)) == 1 and len(h.email.sent) == 1


async def test_banned_buyer_gets_no_link() -> None:
    h = Harness()
    await h.start(2)
    await h.pay(2)
    await h.ban()(BUYER)
    await h.deliver_all()
    assert h.course.invites == {}
    assert _grant(h).failed_at is not None
    assert h.notifier.to(BUYER) == [] and h.email.sent == {}


async def test_a_malformed_message_does_not_hold_up_the_others() -> None:
    h = Harness()
    await h.start(2)
    await h.pay(2)
    poison = OutboxMessage(
        OutboxMessageId(UUID(int=999_999)),
        "poison",
        OutboxKind.TELEGRAM_MESSAGE,
        {"telegram_id": 0, "text": "?"},  # no such Telegram user: the message can never be sent
        h.clock.now() - timedelta(hours=1),  # the oldest, so it is tried first
    )
    h.store.state.outbox = {"poison": poison, **h.store.state.outbox}
    assert await h.deliver_all() == 4  # the grant, the admin note, the buyer's Telegram message and email
    assert len(h.notifier.to(BUYER)) == 1 and len(h.email.sent) == 1
    stored = h.store.state.outbox["poison"]
    assert stored.attempts == 1 and stored.delivered_at is None and "Telegram user id" in (stored.last_error or "")
    assert stored.failed_at is not None  # a payload that can never be sent is given up on at once


class PacedNotifier(RecordingNotifier):
    """Says "not now, try again in ``after`` seconds" for the chats in ``busy``, sending nothing."""

    def __init__(self, after: float = 1.5) -> None:
        super().__init__()
        self.busy: set[TelegramId] = set()
        self.after = after
        self.deferred: list[TelegramId] = []

    async def send_message(self, telegram_id: TelegramId, text: str, buttons: tuple[LinkButton, ...] = ()) -> None:
        if telegram_id in self.busy:
            self.deferred.append(telegram_id)
            raise DeliveryDeferred(f"{telegram_id} is busy", after=self.after)
        await super().send_message(telegram_id, text, buttons)


async def test_a_deferred_message_counts_no_attempt_and_holds_up_nobody(caplog: pytest.LogCaptureFixture) -> None:
    notifier = PacedNotifier(after=1.5)
    h = Harness(notifier=notifier)
    await _paid_referred(h)
    notifier.busy.add(ADMIN)
    with caplog.at_level(logging.DEBUG, logger="application.use_cases.deliver_outbox"):
        assert await h.deliver_all() == 4  # everything but the admin's note
    assert len(h.notifier.to(BUYER)) == 1 and len(h.notifier.to(TelegramId(1))) == 1 and len(h.email.sent) == 1
    note = _telegram_to(h, ADMIN)
    assert (note.attempts, note.last_error, note.failed_at, note.delivered_at) == (0, None, None, None)
    assert note.next_attempt_at == h.clock.now() + timedelta(seconds=1.5)
    deferrals = [r for r in caplog.records if "deferred" in r.getMessage()]
    assert [r.levelno for r in deferrals] == [logging.DEBUG]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    h.clock.advance(timedelta(seconds=1))
    assert await h.deliver_all() == 0 and notifier.deferred == [ADMIN]  # not due: not even asked
    h.clock.advance(timedelta(seconds=0.5))
    assert await h.deliver_all() == 0 and notifier.deferred == [ADMIN, ADMIN]  # due, still busy
    assert _telegram_to(h, ADMIN).attempts == 0

    notifier.busy.clear()
    h.clock.advance(timedelta(seconds=1.5))
    assert await h.deliver_all() == 1
    note = _telegram_to(h, ADMIN)
    assert note.attempts == 1 and note.delivered_at == h.clock.now() and len(h.notifier.to(ADMIN)) == 1


async def test_deferring_forever_never_gives_up_and_a_deferral_keeps_the_last_error() -> None:
    notifier = PacedNotifier(after=1)
    h = Harness(notifier=notifier)
    await h.start(2)
    await h.pay(2)
    notifier.available = False
    await h.deliver_all()
    assert _telegram_to(h, ADMIN).attempts == 1  # a real failure counts
    notifier.available = True
    notifier.busy.add(ADMIN)
    h.clock.advance(retry_delay(1))
    for _ in range(MAX_ATTEMPTS + 5):
        await h.deliver_all()
        h.clock.advance(timedelta(seconds=1))
    note = _telegram_to(h, ADMIN)
    assert note.attempts == 1 and note.failed_at is None and note.last_error == "fake Telegram is down"
    assert len(notifier.deferred) == MAX_ATTEMPTS + 5


async def test_a_run_reports_what_it_did_per_kind() -> None:
    notifier = PacedNotifier(after=1)
    h = Harness(notifier=notifier)
    await _paid_referred(h)
    nothing = await h.deliver()()  # the first run: the grant and the two notes
    assert (nothing.delivered, nothing.deferred, nothing.failed) == (3, 0, 0)
    assert nothing.delivered_by_kind == {OutboxKind.GRANT_ACCESS: 1, OutboxKind.TELEGRAM_NOTICE: 2}

    notifier.busy.add(BUYER)  # the buyer's Telegram message is paced
    h.email.available = False  # the email fails, and will be tried again
    report = await h.deliver()()
    assert (report.delivered, report.deferred, report.failed) == (0, 1, 1)
    assert report.deferred_by_kind == {OutboxKind.TELEGRAM_NOTICE: 1}
    assert report.failed_by_kind == {OutboxKind.EMAIL_NOTICE: 1} and report.given_up_by_kind == {}

    notifier.busy.clear()
    notifier.blocked.add(BUYER)  # now the buyer blocked the bot: given up on
    h.clock.advance(timedelta(seconds=1))
    report = await h.deliver()()
    assert report.failed_by_kind == report.given_up_by_kind == {OutboxKind.TELEGRAM_NOTICE: 1}
    assert (await h.deliver()()).delivered == 0  # nothing due: an empty report
