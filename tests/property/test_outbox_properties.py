"""Telegram, the email service and the course chat go down and come back in any order while
delivery runs and time passes: once they are up long enough, every message has been delivered
exactly once and none is lost."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from adapters.fakes.gateways import RecordingEmailSender
from application.ports.messaging import OutgoingEmail
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
        await super().send(email, idempotency_key)
        self.accepted.append(idempotency_key)


@st.composite
def steps(draw: st.DrawFn) -> tuple[object, ...]:
    op = draw(st.sampled_from(["switch"] * 3 + ["deliver"] * 3 + ["advance"] * 2 + ["concurrent"]))
    if op == "switch":
        return (op, draw(st.sampled_from(["notifier", "email", "course"])), draw(st.booleans()))
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

        for step in program:
            if step[0] == "switch":
                services[step[1]].available = step[2]  # type: ignore[index,attr-defined]
            elif step[0] == "advance":
                h.clock.advance(timedelta(seconds=step[1]))  # type: ignore[arg-type]
            elif step[0] == "concurrent":
                await asyncio.gather(h.deliver()(limit=3), h.deliver()(limit=3))
            else:
                await h.deliver_all()
            assert all(m.failed_at is None for m in h.store.state.outbox.values()), "nothing is given up on"
        event(f"undelivered after the program: {sum(1 for m in h.store.state.outbox.values() if not m.is_done) > 0}")

        for service in services.values():
            service.available = True  # type: ignore[attr-defined]
        for _ in range(12):
            await h.deliver_all()
            if all(m.is_done for m in h.store.state.outbox.values()):
                break
            h.clock.advance(timedelta(minutes=10))

        outbox = h.store.state.outbox.values()
        assert all(m.delivered_at is not None and m.failed_at is None for m in outbox)
        telegram = [m for m in outbox if m.kind is OutboxKind.TELEGRAM_MESSAGE]
        assert Counter((m.telegram_id.value, m.text) for m in h.notifier.sent) == Counter(
            (m.payload["telegram_id"], m.payload["text"]) for m in telegram
        )
        emails = sorted(m.key for m in outbox if m.kind is OutboxKind.EMAIL_MESSAGE)
        assert sorted(h.email.accepted) == emails == sorted(h.email.sent)  # type: ignore[attr-defined]
        assert len(emails) == len(buyers)
        assert len(h.course.invites) == len(buyers) == len(h.store.state.grants)
        assert sorted(h.course.live_links) == sorted(g.invite_link for g in h.store.state.grants.values())
        for buyer in buyers:
            assert len([m for m in h.notifier.to(buyer) if m.buttons]) == 1

    run(play())
