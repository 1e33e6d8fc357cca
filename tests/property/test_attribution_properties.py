from hypothesis import event, given
from hypothesis import strategies as st

from application.errors import CustomerBlacklisted
from domain.ids import CustomerId, TelegramId
from tests.property.support import deterministic, run
from tests.unit.harness import Harness

USERS = 3


@st.composite
def steps(draw: st.DrawFn) -> tuple[object, ...]:
    """Mostly /start, usually with the code of one of the users; sometimes a ban, unban or payment."""
    op = draw(st.sampled_from(["start"] * 10 + ["ban", "unban", "pay", "pay"]))
    user = draw(st.integers(1, USERS))
    if op != "start":
        return (op, user)
    kind = draw(st.sampled_from(["referral"] * 4 + ["none", "junk"]))
    if kind == "referral":
        return (op, user, ("code of", draw(st.integers(1, USERS))))
    if kind == "none":
        return (op, user, None)
    return (op, user, draw(st.sampled_from(["", "bad code", "refNOPE00", "x"])))


def _check_chains(h: Harness) -> None:
    customers = h.store.state.customers
    for start in customers.values():
        seen: set[CustomerId] = {start.id}
        current = start
        while current.referrer_id is not None:
            assert current.referrer_id != current.id, "nobody refers themselves"
            assert current.referrer_id not in seen, "a referral cycle"
            seen.add(current.referrer_id)
            current = customers[current.referrer_id]


@deterministic(200)
@given(st.lists(steps(), min_size=5, max_size=40))
def test_attribution_never_forms_a_cycle_and_first_touch_is_final(program: list[tuple]) -> None:  # type: ignore[type-arg]
    async def scenario() -> None:
        h = Harness()
        first_referrer: dict[int, CustomerId] = {}
        paid: set[int] = set()
        for step in program:
            user = step[1]
            registered = any(c.telegram_id == TelegramId(user) for c in h.store.state.customers.values())
            if step[0] == "ban":
                await h.ban()(TelegramId(user))
            elif step[0] == "unban":
                await h.unban()(TelegramId(user))
            elif step[0] == "pay":
                banned = TelegramId(user) in h.store.state.blacklist
                if registered and not banned and user not in paid:
                    await h.pay(user)
                    paid.add(user)
            else:
                raw = step[2]
                if isinstance(raw, tuple):
                    owner = raw[1]
                    known = [c for c in h.store.state.customers.values() if c.telegram_id == TelegramId(owner)]
                    raw = known[0].referral_code.value if known else "refUNKNOWN1"
                before = h.customer(user).referrer_id if registered else None
                try:
                    result = await h.start(user, raw)
                except CustomerBlacklisted:
                    assert TelegramId(user) in h.store.state.blacklist
                    continue
                after = h.customer(user).referrer_id
                event(f"refused: {result.refused}")
                assert result.attributed == (before is None and after is not None)
                if result.attributed:
                    assert user not in paid, "a buyer is never attributed after paying"
                    assert h.store.state.customers[after].referral_code.value == raw  # type: ignore[index]
            for customer in h.store.state.customers.values():
                tid = customer.telegram_id.value
                if tid in first_referrer:
                    assert customer.referrer_id == first_referrer[tid], "a referrer never changes once set"
                elif customer.referrer_id is not None:
                    first_referrer[tid] = customer.referrer_id
            _check_chains(h)

    run(scenario())
