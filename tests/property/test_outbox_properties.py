"""Telegram, the email service and the course chat go down and come back, and now and then act on
a request but lose the answer, in any order while delivery runs and time passes: once they are
up long enough, nothing is lost; every email is sent exactly once (it carries an idempotency
key); every Telegram message at least once, and more than once only after a lost answer
(Telegram has no idempotency key)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from adapters.fakes.gateways import RecordingEmailSender
from application.ports.messaging import DeliveryError, OutgoingEmail
from domain.ids import TelegramId
from domain.outbox import OutboxKind
from tests.property.support import deterministic, run
from tests.unit.harness import Harness


class CountingEmailSender(RecordingEmailSender):
    """Also records every accepted send, so a second send under one key would show."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[str] = []

    async def send(self, email: OutgoingEmail, idempotency_key: str) -> None:
        try:
            await super().send(email, idempotency_key)
        except DeliveryError:
            if self.available:  # accepted, then the answer was lost
                self.accepted.append(idempotency_key)
            raise
        self.accepted.append(idempotency_key)


@st.composite
def steps(draw: st.DrawFn) -> tuple[object, ...]:
    op = draw(st.sampled_from(["switch"] * 3 + ["deliver"] * 3 + ["advance"] * 2 + ["concurrent"] + ["lose"] * 2))
    if op == "switch":
        return (op, draw(st.sampled_from(["notifier", "email", "course"])), draw(st.booleans()))
    if op == "lose":
        return (op, draw(st.sampled_from(["notifier", "email", "course"])))
    if op == "advance":
        return (op, draw(st.integers(0, 1200)))
    return (op,)


@deterministic(100)
@given(st.lists(st.booleans(), min_size=1, max_size=3), st.lists(steps(), min_size=4, max_size=30))
def test_every_message_is_delivered_exactly_once_after_outages(
    referred: list[bool], program: list[tuple[object, ...]]
) -> None:
    async def play() -> None:
        h = Harness(email=CountingEmailSender())
        code = (await h.start(1)).customer.referral_code.value
        buyers = [TelegramId(10 + i) for i in range(len(referred))]
        for buyer, is_referred in zip(buyers, referred, strict=True):
            await h.start(buyer.value, code if is_referred else None)
            await h.pay(buyer.value)
        services = {"notifier": h.notifier, "email": h.email, "course": h.course}
        lost = Counter[str]()

        for step in program:
            if step[0] == "switch":
                services[step[1]].available = step[2]  # type: ignore[index,attr-defined]
            elif step[0] == "lose":
                services[step[1]].lose_answers += 1  # type: ignore[index,attr-defined]
                lost[step[1]] += 1  # type: ignore[index]
            elif step[0] == "advance":
                h.clock.advance(timedelta(seconds=step[1]))  # type: ignore[arg-type]
            elif step[0] == "concurrent":
                await asyncio.gather(h.deliver()(limit=3), h.deliver()(limit=3))
            else:
                await h.deliver_all()
            assert all(m.failed_at is None for m in h.store.state.outbox.values()), "nothing is given up on"
        event(f"undelivered after the program: {sum(1 for m in h.store.state.outbox.values() if not m.is_done) > 0}")

        for name, service in services.items():
            service.available = True  # type: ignore[attr-defined]
            lost[name] -= service.lose_answers  # type: ignore[attr-defined] # armed but never used
            service.lose_answers = 0  # type: ignore[attr-defined]
        for _ in range(12):
            await h.deliver_all()
            if all(m.is_done for m in h.store.state.outbox.values()):
                break
            h.clock.advance(timedelta(minutes=10))

        event(f"answers lost: {sorted(name for name, n in lost.items() if n > 0)}")
        outbox = h.store.state.outbox.values()
        assert all(m.delivered_at is not None and m.failed_at is None for m in outbox)
        telegram = [m for m in outbox if m.kind is OutboxKind.TELEGRAM_NOTICE]
        sent = Counter(m.telegram_id.value for m in h.notifier.sent)
        queued = Counter(m.payload["telegram_id"] for m in telegram)
        assert all(sent[who] >= n for who, n in queued.items()), "every Telegram message at least once"
        assert sent.total() == queued.total() + lost["notifier"], "a second send only after a lost answer"
        emails = sorted(m.key for m in outbox if m.kind is OutboxKind.EMAIL_NOTICE)
        assert sorted(set(h.email.accepted)) == emails == sorted(h.email.sent)  # type: ignore[attr-defined]
        assert len(h.email.accepted) == len(emails) + lost["email"]  # type: ignore[attr-defined] # retried, not resent
        assert len(emails) == len(buyers)
        assert len(h.store.state.grants) == len(buyers)
        assert len(h.course.invites) == len(buyers) + lost["course"]  # a link made but never heard of
        granted = {g.invite_link for g in h.store.state.grants.values()}
        assert granted <= set(h.course.live_links)
        for buyer in buyers:
            with_link = [m for m in h.notifier.to(buyer) if m.buttons]
            assert with_link and {m.buttons[0].url for m in with_link} <= granted

    run(play())
