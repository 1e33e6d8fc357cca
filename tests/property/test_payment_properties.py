"""Webhooks arrive late, twice, out of order, and the provider's status moves meanwhile: whatever
the sequence, each purchase ends paid exactly when its payment succeeded, and a paid purchase
yields exactly one credit (when referred), one access grant, one invite link and one email."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from application.notices import DuplicatePaymentNotice, PaymentCanceledNotice
from application.ports.payment_gateway import Payment, PaymentRequest
from application.services.payments import PaymentOutcome
from application.use_cases.start_checkout import PaymentLink
from domain.customer import Language
from domain.email import Email
from domain.ids import PurchaseId, TelegramId
from domain.outbox import OutboxKind
from domain.purchase import PaymentStatus, Purchase, PurchaseStatus
from tests.property.support import MEMORY, SQLITE, deterministic, harness_on, run
from tests.unit.harness import ADMIN, Harness

REFERRER = 1
FINAL = (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED)


@st.composite
def steps(draw: st.DrawFn, buyers: int) -> tuple[object, ...]:
    op = draw(st.sampled_from(["status"] * 3 + ["confirm"] * 3 + ["replay"] * 2 + ["checkout", "deliver"]))
    buyer = draw(st.integers(0, buyers - 1))
    if op == "status":
        return (op, buyer, draw(st.sampled_from([*PaymentStatus, PaymentStatus.SUCCEEDED])))
    if op == "confirm":
        return (op, buyer, draw(st.integers(0, 2)), draw(st.integers(1, 3)))
    if op == "replay":
        return (op, draw(st.integers(0, 1000)))
    return (op, buyer)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[bool], list[tuple[object, ...]]]:
    referred = draw(st.lists(st.booleans(), min_size=1, max_size=4))
    return referred, draw(st.lists(steps(len(referred)), min_size=8, max_size=30))


@dataclass
class Model:
    """What must be true, kept by the test from what the provider said and what was applied."""

    referred: list[bool]
    purchases: list[list[PurchaseId]] = field(default_factory=list)  # per buyer, oldest first
    buyer_of: dict[PurchaseId, int] = field(default_factory=dict)
    payment_of: dict[PurchaseId, str] = field(default_factory=dict)
    applied: dict[PurchaseId, PaymentStatus] = field(default_factory=dict)  # the final status applied first
    history: list[Payment] = field(default_factory=list)  # every view of a payment the provider ever gave

    def add(self, buyer: int, purchase_id: PurchaseId, payment_id: str) -> None:
        self.purchases[buyer].append(purchase_id)
        self.buyer_of[purchase_id] = buyer
        self.payment_of[purchase_id] = payment_id

    def saw(self, payment: Payment) -> None:
        """A view of ``payment`` was applied to its purchase."""
        assert payment.purchase_id is not None
        if payment.status in FINAL:
            self.applied.setdefault(payment.purchase_id, payment.status)

    def status(self, purchase_id: PurchaseId) -> PurchaseStatus:
        return {
            PaymentStatus.SUCCEEDED: PurchaseStatus.PAID,
            PaymentStatus.CANCELED: PurchaseStatus.CANCELED,
        }.get(self.applied.get(purchase_id), PurchaseStatus.PENDING)  # type: ignore[arg-type]

    def with_status(self, status: PurchaseStatus) -> set[PurchaseId]:
        return {p for p in self.buyer_of if self.status(p) is status}


def tid(buyer: int) -> int:
    return 10 + buyer


async def check_state(h: Harness, model: Model) -> None:
    now = await h.committed()
    state = now.store.state
    assert set(state.purchases) == set(model.buyer_of)
    for purchase_id, purchase in state.purchases.items():
        assert purchase.status is model.status(purchase_id), purchase_id
        if purchase.status is PurchaseStatus.PAID:
            assert h.gateway.payments[model.payment_of[purchase_id]].status is PaymentStatus.SUCCEEDED
        if purchase.status is PurchaseStatus.CANCELED:
            assert h.gateway.payments[model.payment_of[purchase_id]].status is PaymentStatus.CANCELED
    paid = model.with_status(PurchaseStatus.PAID)
    assert len(paid) == len({model.buyer_of[p] for p in paid}), "at most one paid purchase per buyer"
    referrer_id = now.customer(REFERRER).id
    credited = {p for p in paid if model.referred[model.buyer_of[p]]}
    share = h.terms.price.share(h.terms.referral_rate)
    assert sorted((str(e.purchase_id), e.referrer_id, e.amount) for e in state.ledger) == sorted(
        (str(p), referrer_id, share) for p in credited
    )
    grants = [m for m in state.outbox.values() if m.kind is OutboxKind.GRANT_ACCESS]
    assert sorted(m.payload["purchase_id"] for m in grants) == sorted(str(p) for p in paid)
    for buyer in range(len(model.referred)):
        canceled = sum(1 for p in model.purchases[buyer] if model.status(p) is PurchaseStatus.CANCELED)
        assert now.notices_to(tid(buyer), PaymentCanceledNotice) == [PaymentCanceledNotice()] * canceled


async def check_delivered(h: Harness, model: Model) -> None:
    now = await h.committed()
    paid = model.with_status(PurchaseStatus.PAID)
    assert len(h.course.invites) == len(paid)
    assert len(now.store.state.grants) == len(paid)
    assert len(h.email.sent) == len(paid)
    for purchase_id in paid:
        buyer = model.buyer_of[purchase_id]
        [grant] = [g for g in now.store.state.grants.values() if g.purchase_id == purchase_id]
        with_link = [m for m in h.notifier.to(TelegramId(tid(buyer))) if m.buttons]
        assert [m.buttons[0].url for m in with_link] == [grant.invite_link]
        [email] = [e for e in h.email.sent.values() if grant.invite_link in e.text]
        assert email.to == now.purchase(purchase_id).email
    canceled_text = h.render(Language.RU, "payment.canceled")
    for buyer in range(len(model.referred)):
        told = [m for m in h.notifier.to(TelegramId(tid(buyer))) if m.text == canceled_text]
        assert len(told) == sum(1 for p in model.purchases[buyer] if model.status(p) is PurchaseStatus.CANCELED)
    assert all(m.delivered_at is not None for m in now.store.state.outbox.values())


async def any_order_pays_exactly_once(backend: str, scenario: tuple[list[bool], list[tuple[object, ...]]]) -> None:
    referred, program = scenario
    async with harness_on(backend) as h:
        model = Model(referred)
        code = (await h.start(REFERRER)).customer.referral_code.value
        for buyer, is_referred in enumerate(referred):
            model.purchases.append([])
            await h.start(tid(buyer), code if is_referred else None)
            link = await h.buy(tid(buyer))
            assert isinstance(link, PaymentLink)
            model.add(buyer, link.purchase_id, h.payment_id_of(link.purchase_id))
            model.history.append(h.gateway.payments[model.payment_of[link.purchase_id]])

        for step in program:
            op = step[0]
            if op == "status":
                _, buyer, status = step
                latest = model.purchases[buyer][-1]  # type: ignore[index]
                model.history.append(h.gateway.set_status(model.payment_of[latest], status))  # type: ignore[arg-type]
            elif op == "confirm":
                _, buyer, which, times = step
                purchase_id = model.purchases[buyer][which % len(model.purchases[buyer])]  # type: ignore[index,operator]
                for _ in range(times):  # type: ignore[attr-defined]
                    outcome = await h.confirm()(model.payment_of[purchase_id])
                    event(f"confirm: {outcome}")
                    model.saw(h.gateway.payments[model.payment_of[purchase_id]])
            elif op == "replay":  # a stale view, applied as if its body were trusted
                stale = model.history[step[1] % len(model.history)]  # type: ignore[operator]
                event(f"replay: {await h.recorder().record(stale)}")
                model.saw(stale)
            elif op == "checkout":
                buyer = step[1]
                latest = model.purchases[buyer][-1]  # type: ignore[index]
                if model.with_status(PurchaseStatus.PAID) & set(model.purchases[buyer]):  # type: ignore[index]
                    continue  # a paid buyer gets their link again: not this test's subject
                current = h.gateway.payments[model.payment_of[latest]]
                result = await h.buy(tid(buyer))  # type: ignore[arg-type]
                event(f"checkout: {type(result).__name__}")
                if model.status(latest) is PurchaseStatus.PENDING:
                    model.saw(current)
                if isinstance(result, PaymentLink) and not result.reused:
                    assert model.status(latest) is PurchaseStatus.CANCELED
                    model.add(buyer, result.purchase_id, h.payment_id_of(result.purchase_id))  # type: ignore[arg-type]
                    model.history.append(h.gateway.payments[model.payment_of[result.purchase_id]])
            else:
                await h.deliver_all()
            await check_state(h, model)

        # Every payment's notification finally arrives once more.
        for payment_id in model.payment_of.values():
            await h.confirm()(payment_id)
            model.saw(h.gateway.payments[payment_id])
        for purchase_id, payment_id in model.payment_of.items():
            assert (model.status(purchase_id) is PurchaseStatus.PAID) == (
                h.gateway.payments[payment_id].status is PaymentStatus.SUCCEEDED
            )
        await check_state(h, model)
        await h.deliver_all()
        await check_delivered(h, model)


# An example on SQLite costs several in memory, so the SQLite run draws fewer, to keep the module
# near 30 s (a second decorated function: Hypothesis settings are per function, not per pytest
# parameter). The ledger's property runs its full budget on both.
@pytest.mark.parametrize("backend", [MEMORY])
@deterministic(120)
@given(scenarios())
def test_any_order_of_notifications_pays_exactly_once(
    backend: str, scenario: tuple[list[bool], list[tuple[object, ...]]]
) -> None:
    run(any_order_pays_exactly_once(backend, scenario))


@pytest.mark.parametrize("backend", [SQLITE])
@deterministic(50)
@given(scenarios())
def test_any_order_of_notifications_pays_exactly_once_on_sql(
    backend: str, scenario: tuple[list[bool], list[tuple[object, ...]]]
) -> None:
    run(any_order_pays_exactly_once(backend, scenario))


@st.composite
def two_payment_steps(draw: st.DrawFn) -> list[tuple[str, int, PaymentStatus | int]]:
    step = st.one_of(
        st.tuples(
            st.just("status"), st.integers(0, 1), st.sampled_from([PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED])
        ),
        st.tuples(st.just("confirm"), st.integers(0, 1), st.integers(1, 3)),
        st.tuples(st.just("deliver"), st.just(0), st.just(0)),
    )
    return draw(st.lists(step, min_size=2, max_size=16))


async def paying_twice_grants_once(
    backend: str, referred: bool, program: list[tuple[str, int, PaymentStatus | int]]
) -> None:
    """Two payments of one customer in flight (two checkouts that raced), paid, canceled and
    notified in any order: the first one recorded paid grants access and credits the referrer; a
    later paid one is recorded paid too, but only alerts the admins to refund it."""
    async with harness_on(backend) as h:
        code = (await h.start(REFERRER)).customer.referral_code.value
        buyer = tid(0)
        await h.start(buyer, code if referred else None)
        link = await h.buy(buyer)
        assert isinstance(link, PaymentLink)
        purchase_ids = [link.purchase_id]
        second = Purchase(
            PurchaseId(h.ids.new_uuid()),
            (await h.committed()).customer(buyer).id,
            h.terms.price,
            Email("b@example.com"),
            h.clock.now(),
        )
        made = await h.gateway.create_payment(
            PaymentRequest(second.id, second.price, "course", "https://t.me/bot", second.email, True, str(second.id))
        )
        second.attach_payment(made.payment_id, made.confirmation_url)
        async with h.uow() as uow:
            await uow.purchases.add(second)
            await uow.commit()
        purchase_ids.append(second.id)
        payment_ids = [h.payment_id_of(p) for p in purchase_ids]
        paid_order: list[PurchaseId] = []  # purchases in the order they were recorded paid
        duplicates_reported: list[PurchaseId] = []

        for op, which, arg in [*program, ("confirm", 0, 1), ("confirm", 1, 1), ("deliver", 0, 0)]:
            if op == "status":
                h.gateway.set_status(payment_ids[which], arg)  # type: ignore[arg-type]
            elif op == "confirm":
                for _ in range(arg):  # type: ignore[call-overload]
                    outcome = await h.confirm()(payment_ids[which])
                    event(f"confirm: {outcome}")
                    if outcome in (PaymentOutcome.PAID, PaymentOutcome.DUPLICATE_PAYMENT):
                        paid_order.append(purchase_ids[which])
                    if outcome is PaymentOutcome.DUPLICATE_PAYMENT:
                        duplicates_reported.append(purchase_ids[which])
            else:
                await h.deliver_all()

            now = await h.committed()
            state = now.store.state
            paid = [p for p in purchase_ids if state.purchases[p].status is PurchaseStatus.PAID]
            assert sorted(paid, key=str) == sorted(paid_order, key=str)
            assert duplicates_reported == paid_order[1:]
            grants = [m.payload["purchase_id"] for m in state.outbox.values() if m.kind is OutboxKind.GRANT_ACCESS]
            assert grants == [str(p) for p in paid_order[:1]]
            credited = [e.purchase_id for e in state.ledger]
            assert credited == (paid_order[:1] if referred else [])
            alerts = now.notices_to(ADMIN, DuplicatePaymentNotice)
            assert sorted(a.payment_id for a in alerts if isinstance(a, DuplicatePaymentNotice)) == sorted(
                str(state.purchases[p].payment_id) for p in paid_order[1:]
            )

        assert len(h.course.invites) == len(paid_order[:1]) and len(h.email.sent) == len(paid_order[:1])
        admin_texts = [m.text for m in h.notifier.to(ADMIN)]
        state = await h.state()
        for duplicate in paid_order[1:]:
            assert sum(state.purchases[duplicate].payment_id in t for t in admin_texts) == 1


@pytest.mark.parametrize("backend", [MEMORY])
@deterministic(80)
@given(st.booleans(), two_payment_steps())
def test_a_customer_paying_twice_gets_access_and_credit_once_and_admins_a_refund_alert(
    backend: str, referred: bool, program: list[tuple[str, int, PaymentStatus | int]]
) -> None:
    run(paying_twice_grants_once(backend, referred, program))


@pytest.mark.parametrize("backend", [SQLITE])
@deterministic(30)
@given(st.booleans(), two_payment_steps())
def test_a_customer_paying_twice_gets_access_and_credit_once_and_admins_a_refund_alert_on_sql(
    backend: str, referred: bool, program: list[tuple[str, int, PaymentStatus | int]]
) -> None:
    run(paying_twice_grants_once(backend, referred, program))
