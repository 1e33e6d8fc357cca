from datetime import timedelta
from uuid import UUID

import pytest

from domain.access import AccessGrant
from domain.errors import DomainError, InvalidValue
from domain.ids import AccessGrantId, CustomerId, OutboxMessageId, PurchaseId
from domain.outbox import OutboxKind, OutboxMessage, retry_delay
from tests.unit.domain.factories import T0


def message(key: str = "purchase:1:access") -> OutboxMessage:
    return OutboxMessage(OutboxMessageId(UUID(int=1)), key, OutboxKind.TELEGRAM_MESSAGE, {"x": 1}, T0)


def test_new_message_is_due_at_once() -> None:
    m = message()
    assert (m.next_attempt_at, m.attempts, m.is_done) == (T0, 0, False)


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_message_needs_a_key(key: str) -> None:
    with pytest.raises(InvalidValue):
        message(key)


def test_delivered() -> None:
    m = message()
    m.failed(T0, "down", permanent=False, max_attempts=5)
    m.delivered(T0 + timedelta(seconds=3))
    assert (m.attempts, m.delivered_at, m.last_error, m.failed_at, m.is_done) == (
        2,
        T0 + timedelta(seconds=3),
        None,
        None,
        True,
    )


def test_temporary_failures_back_off_exponentially() -> None:
    m = message()
    at = T0
    for attempt, delay in enumerate([2, 4, 8, 16, 32], start=1):
        m.failed(at, f"down {attempt}", permanent=False, max_attempts=50)
        assert m.attempts == attempt
        assert m.next_attempt_at == at + timedelta(seconds=delay)
        assert not m.is_done and m.failed_at is None
        assert m.last_error == f"down {attempt}"
        at = m.next_attempt_at


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 2), (2, 4), (9, 512), (10, 600), (30, 600), (10_000, 600)])
def test_retry_delay_is_capped_at_ten_minutes(attempts: int, seconds: int) -> None:
    assert retry_delay(attempts) == timedelta(seconds=seconds)


def test_permanent_failure_gives_up_at_once() -> None:
    m = message()
    m.failed(T0, "Forbidden: bot was blocked by the user", permanent=True, max_attempts=50)
    assert (m.failed_at, m.is_done, m.attempts, m.delivered_at) == (T0, True, 1, None)


def test_gives_up_after_max_attempts() -> None:
    m = message()
    for _ in range(2):
        m.failed(T0, "down", permanent=False, max_attempts=3)
        assert not m.is_done
    m.failed(T0, "down", permanent=False, max_attempts=3)
    assert m.is_done and m.failed_at == T0 and m.attempts == 3


def test_error_text_is_bounded() -> None:
    m = message()
    m.failed(T0, "e" * 5000, permanent=False, max_attempts=5)
    assert len(m.last_error or "") == 1000


def test_defer_moves_the_next_attempt_and_counts_nothing() -> None:
    m = message()
    m.defer(T0 + timedelta(seconds=1))
    assert (m.next_attempt_at, m.attempts, m.last_error, m.is_done) == (T0 + timedelta(seconds=1), 0, None, False)
    m.failed(T0 + timedelta(seconds=1), "down", permanent=False, max_attempts=3)
    m.defer(T0 + timedelta(seconds=5))  # after a failure: the count and the error stay
    assert (m.next_attempt_at, m.attempts, m.last_error, m.is_done) == (T0 + timedelta(seconds=5), 1, "down", False)
    for n in range(100):  # deferring never gives up
        m.defer(T0 + timedelta(seconds=6 + n))
    assert m.attempts == 1 and m.failed_at is None and not m.is_done


def test_a_done_message_cannot_be_deferred() -> None:
    m = message()
    m.delivered(T0)
    with pytest.raises(DomainError):
        m.defer(T0 + timedelta(seconds=1))
    assert m.next_attempt_at == T0


def grant(expires: timedelta = timedelta(hours=24)) -> AccessGrant:
    return AccessGrant(
        AccessGrantId(UUID(int=1)),
        PurchaseId(UUID(int=2)),
        CustomerId(UUID(int=3)),
        "https://t.me/+x",
        T0,
        T0 + expires,
    )


def test_grant_revoke_once() -> None:
    g = grant()
    assert not g.is_revoked
    assert g.revoke(T0 + timedelta(hours=1)) is True
    assert g.is_revoked and g.revoked_at == T0 + timedelta(hours=1)
    assert g.revoke(T0 + timedelta(hours=2)) is False
    assert g.revoked_at == T0 + timedelta(hours=1)


@pytest.mark.parametrize("expires", [timedelta(0), timedelta(seconds=-1)])
def test_grant_expires_after_issue(expires: timedelta) -> None:
    with pytest.raises(InvalidValue):
        grant(expires)


def test_grant_needs_a_link() -> None:
    with pytest.raises(InvalidValue):
        AccessGrant(
            AccessGrantId(UUID(int=1)),
            PurchaseId(UUID(int=2)),
            CustomerId(UUID(int=3)),
            "",
            T0,
            T0 + timedelta(hours=1),
        )
