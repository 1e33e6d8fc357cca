"""``YooKassaPaymentGateway`` (httpx, the SDK's request model for validation only) against a
loopback stand-in of the YooKassa API; the assertions are about what went on the wire."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from types import MappingProxyType
from typing import Any

import pytest
import pytest_asyncio
import yookassa

from adapters.yookassa import YooKassaApi, YooKassaPaymentGateway
from application.ports.payment_gateway import (
    PaymentGatewayRejected,
    PaymentGatewayUnavailable,
    PaymentNotFound,
    PaymentRequest,
)
from domain.email import Email
from domain.ids import PurchaseId
from domain.money import Money
from domain.purchase import PaymentStatus
from tests.standins.server import Switchboard, refused_url, serve_asgi
from tests.standins.yookassa import YooKassaStandIn

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOP_ID = "123456"
SECRET = "test_secret_key"
AGENT_ID = "505050"  # a payout gateway's agent id: a second credential set in the same process
AGENT_SECRET = "payout_secret_key"
UNKNOWN_ID = "2419a771-000f-5000-9000-1edaf29243f2"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[tuple[Switchboard, str]]:
    switch = Switchboard()
    async with serve_asgi(switch) as base:
        yield switch, f"{base}/v3"


@pytest.fixture
def standin(server: tuple[Switchboard, str]) -> Iterator[YooKassaStandIn]:
    switch, _ = server
    switch.target = YooKassaStandIn(SHOP_ID, SECRET, credentials={AGENT_ID: AGENT_SECRET})
    yield switch.target
    switch.target = None


@pytest.fixture
def api_url(server: tuple[Switchboard, str], standin: YooKassaStandIn) -> str:
    return server[1]


@pytest_asyncio.fixture(loop_scope="module")
async def make_gateway(api_url: str) -> AsyncIterator[Callable[..., YooKassaPaymentGateway]]:
    made: list[YooKassaPaymentGateway] = []

    def make(
        shop_id: str = SHOP_ID, secret: str = SECRET, *, timeout: float = 2.0, url: str | None = None
    ) -> YooKassaPaymentGateway:
        gateway = YooKassaPaymentGateway(shop_id, secret, api_url=url or api_url, vat_code=4, timeout=timeout)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


@pytest.fixture
def gateway(make_gateway: Callable[..., YooKassaPaymentGateway]) -> YooKassaPaymentGateway:
    return make_gateway()


def make_request(
    *, receipt: bool = True, amount: Money = Money(499_000), description: str = "AI course", key: str | None = None
) -> PaymentRequest:
    purchase_id = PurchaseId(uuid.uuid4())
    return PaymentRequest(
        purchase_id=purchase_id,
        amount=amount,
        description=description,
        return_url="https://t.me/aimpay_bot",
        customer_email=Email("buyer@example.com"),
        receipt=receipt,
        idempotency_key=str(purchase_id) if key is None else key,
    )


def basic(shop_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{shop_id}:{secret}".encode()).decode()


def wire_body(request: PaymentRequest, value: str) -> dict[str, Any]:
    """The body YooKassa must receive for ``request``, written out by hand."""
    amount = {"value": value, "currency": "RUB"}
    return {
        "amount": amount,
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": "https://t.me/aimpay_bot"},
        "description": request.description,
        "metadata": {"purchase_id": str(request.purchase_id)},
        "receipt": {
            "customer": {"email": "buyer@example.com"},
            "items": [
                {
                    "description": request.description,
                    "quantity": "1.00",
                    "amount": amount,
                    "vat_code": 4,
                    "payment_subject": "service",
                    "payment_mode": "full_payment",
                }
            ],
        },
    }


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.01)


# --- what goes on the wire ---------------------------------------------------------------------


async def test_create_sends_the_payment_yookassa_expects(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    request = make_request(receipt=True)
    payment = await gateway.create_payment(request)

    [sent] = standin.requests_log
    assert (sent.method, sent.path) == ("POST", "/v3/payments")
    assert sent.headers["idempotence-key"] == request.idempotency_key
    assert sent.headers["authorization"] == basic(SHOP_ID, SECRET)
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == wire_body(request, "4990.00")  # exactly: no key added, dropped or reshaped

    stored = standin.payments[payment.payment_id]
    assert payment.status is PaymentStatus.PENDING
    assert payment.amount == Money(499_000)
    assert payment.purchase_id == request.purchase_id
    assert payment.confirmation_url == stored["confirmation"]["confirmation_url"]
    assert standin.create_count == 1


@pytest.mark.parametrize(
    ("minor", "value"),
    [
        (10_005, "100.05"),
        (1, "0.01"),
        (10, "0.10"),
        (100, "1.00"),
        (123_456_789, "1234567.89"),
        (1_234_567_890_123, "12345678901.23"),
    ],
)
async def test_the_amount_goes_out_as_an_exact_two_decimal_string(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, minor: int, value: str
) -> None:
    request = make_request(amount=Money(minor))
    payment = await gateway.create_payment(request)
    assert standin.requests_log[0].body == wire_body(request, value)
    assert payment.amount == Money(minor)


async def test_create_without_receipt_sends_none(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    request = make_request(receipt=False, amount=Money(10_005))
    await gateway.create_payment(request)
    [sent] = standin.requests_log
    expected = wire_body(request, "100.05")
    del expected["receipt"]
    assert sent.body == expected
    assert standin.create_count == 1


async def test_long_description_is_cut_to_128_characters(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    payment = await gateway.create_payment(make_request(description="Курс " * 60))
    body = standin.requests_log[0].body
    assert body["description"] == ("Курс " * 60)[:128]
    assert body["receipt"]["items"][0]["description"] == body["description"]
    assert standin.payments[payment.payment_id]["description"] == body["description"]


class _DriftingGateway(YooKassaPaymentGateway):
    """A gateway whose body builder has a bug the SDK would hide."""

    def __init__(self, change: Callable[[dict[str, Any]], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._change = change

    def payment_body(self, request: PaymentRequest) -> dict[str, Any]:
        body = super().payment_body(request)
        self._change(body)
        return body


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["amount"].update(value="100.005"),  # the SDK would round it through float to 100.01
        lambda b: b.update(metadta={"purchase_id": "x"}),  # a key the SDK (and YooKassa) does not know
        lambda b: b["receipt"]["items"][0].update(vat_cod=4),
        lambda b: b.update(capture="yes"),
        lambda b: b.update(metadata=MappingProxyType(b["metadata"])),  # the SDK drops metadata that is not a dict
    ],
)
async def test_a_body_the_sdk_would_change_is_refused_without_a_call(
    api_url: str, standin: YooKassaStandIn, change: Callable[[dict[str, Any]], None]
) -> None:
    gateway = _DriftingGateway(change, shop_id=SHOP_ID, secret_key=SECRET, api_url=api_url)
    try:
        with pytest.raises(PaymentGatewayRejected):
            await gateway.create_payment(make_request())
    finally:
        await gateway.aclose()
    assert standin.requests_log == []


@pytest.mark.parametrize("amount", [Money(0), Money(-100)])
async def test_a_request_the_sdk_refuses_is_rejected_without_a_call(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, amount: Money
) -> None:
    with pytest.raises(PaymentGatewayRejected, match="invalid request"):
        await gateway.create_payment(make_request(amount=amount))
    assert standin.requests_log == []


@pytest.mark.parametrize("key", ["", "k" * 65, "ключ", "two words", "key\n", "tab\tkey"])
async def test_an_unusable_idempotency_key_is_rejected_without_a_call(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, key: str
) -> None:
    with pytest.raises(PaymentGatewayRejected, match="idempotency key"):
        await gateway.create_payment(make_request(key=key))
    assert standin.requests_log == []


async def test_a_post_without_a_key_is_refused_by_the_api_client(api_url: str, standin: YooKassaStandIn) -> None:
    api = YooKassaApi(SHOP_ID, SECRET, api_url=api_url, timeout=2.0)
    try:
        with pytest.raises(PaymentGatewayRejected, match="idempotency key"):
            await api.request("POST", "/payments", json={"amount": {"value": "1.00", "currency": "RUB"}})
    finally:
        await api.aclose()
    assert standin.requests_log == []


# --- idempotency and retries -------------------------------------------------------------------


async def test_a_retried_create_returns_the_same_payment(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    request = make_request()
    first = await gateway.create_payment(request)
    again = await gateway.create_payment(request)
    assert again == first
    assert len(standin.requests_log) == 2
    assert standin.requests_log[0].body == standin.requests_log[1].body
    assert standin.create_count == 1


async def test_same_key_with_another_body_is_rejected(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    await gateway.create_payment(make_request(key="key-1"))
    with pytest.raises(PaymentGatewayRejected, match="Idempotence key duplicated"):
        await gateway.create_payment(make_request(key="key-1", amount=Money(100)))
    assert standin.create_count == 1


async def test_a_202_is_repeated_with_the_same_key_until_it_settles(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    request = make_request()
    standin.processing_next(times=2, retry_after_ms=50)
    started = time.monotonic()
    payment = await gateway.create_payment(request)
    assert time.monotonic() - started >= 0.1  # it waited retry_after before each repeat
    assert len(standin.requests_log) == 3
    assert {r.headers["idempotence-key"] for r in standin.requests_log} == {request.idempotency_key}
    assert all(r.body == standin.requests_log[0].body for r in standin.requests_log)
    assert standin.create_count == 1
    assert list(standin.payments) == [payment.payment_id]


async def test_a_202_without_retry_after_is_repeated_after_a_backoff(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    request = make_request()
    standin.processing_next(retry_after_ms=None, process=False)
    payment = await gateway.create_payment(request)
    assert len(standin.requests_log) == 2
    assert standin.create_count == 1
    assert payment.payment_id in standin.payments


async def test_a_202_on_fetch_is_repeated(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    created = await gateway.create_payment(make_request())
    standin.processing_next(retry_after_ms=20)
    fetched = await gateway.fetch_payment(created.payment_id)
    assert fetched.payment_id == created.payment_id
    assert len(standin.requests_log) == 3


async def test_a_202_that_never_settles_is_unavailable_within_the_deadline(
    make_gateway: Callable[..., YooKassaPaymentGateway], standin: YooKassaStandIn
) -> None:
    gateway = make_gateway(timeout=0.5)  # deadline 1 s
    request = make_request()
    standin.processing_next(times=1000, retry_after_ms=100)
    started = time.monotonic()
    with pytest.raises(PaymentGatewayUnavailable, match="HTTP 202"):
        await gateway.create_payment(request)
    assert time.monotonic() - started < 1.5
    assert 3 <= len(standin.requests_log) <= 11
    assert {r.headers["idempotence-key"] for r in standin.requests_log} == {request.idempotency_key}
    assert standin.create_count == 1  # processed once, repeated with the same key


async def test_a_202_asking_for_more_than_the_deadline_gives_up_at_once(
    make_gateway: Callable[..., YooKassaPaymentGateway], standin: YooKassaStandIn
) -> None:
    gateway = make_gateway(timeout=0.5)
    standin.processing_next(retry_after_ms=60_000)
    started = time.monotonic()
    with pytest.raises(PaymentGatewayUnavailable, match="HTTP 202"):
        await gateway.create_payment(make_request())
    assert time.monotonic() - started < 0.5
    assert len(standin.requests_log) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_a_server_failure_is_unavailable_and_the_retry_makes_one_payment(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, status: int
) -> None:
    request = make_request()
    standin.fail_next(status)
    with pytest.raises(PaymentGatewayUnavailable, match=f"HTTP {status}"):
        await gateway.create_payment(request)
    payment = await gateway.create_payment(request)
    assert standin.create_count == 1
    assert [r.headers["idempotence-key"] for r in standin.requests_log] == [request.idempotency_key] * 2
    assert payment.payment_id in standin.payments


async def test_a_server_failure_on_fetch_is_unavailable(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    payment = await gateway.create_payment(make_request())
    standin.fail_next(500)
    with pytest.raises(PaymentGatewayUnavailable, match="internal_server_error"):
        await gateway.fetch_payment(payment.payment_id)


async def test_a_hung_server_is_unavailable_and_the_connection_is_dropped(
    make_gateway: Callable[..., YooKassaPaymentGateway], standin: YooKassaStandIn
) -> None:
    gateway = make_gateway(timeout=0.5)
    standin.hang_next(seconds=30)
    async with asyncio.timeout(5):  # a guard against hanging forever, not a speed test
        with pytest.raises(PaymentGatewayUnavailable):
            await gateway.create_payment(make_request())
    await eventually(lambda: standin.abandoned == 1)  # the client gave up the socket
    assert standin.payments == {}


async def test_the_overall_deadline_bounds_a_call(api_url: str, standin: YooKassaStandIn) -> None:
    api = YooKassaApi(SHOP_ID, SECRET, api_url=api_url, timeout=10.0, deadline=0.3)
    gateway = YooKassaPaymentGateway(api=api)
    standin.hang_next(seconds=30)
    started = time.monotonic()
    try:
        with pytest.raises(PaymentGatewayUnavailable, match=r"no answer within 0\.3 s"):
            await gateway.fetch_payment(UNKNOWN_ID)
    finally:
        await api.aclose()
    assert time.monotonic() - started < 2
    await eventually(lambda: standin.abandoned == 1)


async def test_a_lost_answer_is_unavailable_and_the_retry_finds_the_payment(
    make_gateway: Callable[..., YooKassaPaymentGateway], standin: YooKassaStandIn
) -> None:
    gateway = make_gateway(timeout=0.5)
    request = make_request()
    standin.hang_next(seconds=30, process=True)  # accepted and processed; the answer never comes
    async with asyncio.timeout(5):
        with pytest.raises(PaymentGatewayUnavailable):
            await gateway.create_payment(request)
    [created] = standin.payments
    payment = await gateway.create_payment(request)
    assert payment.payment_id == created
    assert list(standin.payments) == [created]  # no second payment
    assert standin.create_count == 1
    assert [r.headers["idempotence-key"] for r in standin.requests_log] == [request.idempotency_key] * 2
    assert standin.requests_log[0].body == standin.requests_log[1].body


async def test_a_refused_connection_is_unavailable(make_gateway: Callable[..., YooKassaPaymentGateway]) -> None:
    gateway = make_gateway(url=f"{refused_url()}/v3")
    async with asyncio.timeout(5):
        with pytest.raises(PaymentGatewayUnavailable, match="ConnectError"):
            await gateway.create_payment(make_request())
        with pytest.raises(PaymentGatewayUnavailable):
            await gateway.fetch_payment(UNKNOWN_ID)


# --- answers -----------------------------------------------------------------------------------


async def test_fetch_follows_the_payment_to_its_final_state(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    paid = await gateway.create_payment(make_request())
    dropped = await gateway.create_payment(make_request())
    assert (await gateway.fetch_payment(paid.payment_id)).status is PaymentStatus.PENDING

    standin.succeed(paid.payment_id)
    standin.cancel(dropped.payment_id)
    standin.cancel(paid.payment_id)  # final states never change back
    standin.succeed(dropped.payment_id)

    got_paid = await gateway.fetch_payment(paid.payment_id)
    got_dropped = await gateway.fetch_payment(dropped.payment_id)
    assert (got_paid.status, got_paid.amount, got_paid.purchase_id) == (
        PaymentStatus.SUCCEEDED,
        Money(499_000),
        paid.purchase_id,
    )
    assert got_dropped.status is PaymentStatus.CANCELED
    assert got_dropped.confirmation_url is None
    last = standin.requests_log[-1]
    assert (last.method, last.path, last.body) == ("GET", f"/v3/payments/{dropped.payment_id}", None)
    assert last.headers["authorization"] == basic(SHOP_ID, SECRET)
    assert "idempotence-key" not in last.headers


@pytest.mark.parametrize("metadata", [{}, {"purchase_id": "not-a-uuid"}, {"cms_name": "other"}, None, ["x"]])
async def test_a_payment_without_our_purchase_id_has_none(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, metadata: object
) -> None:
    payment = await gateway.create_payment(make_request())
    standin.payments[payment.payment_id]["metadata"] = metadata
    fetched = await gateway.fetch_payment(payment.payment_id)
    assert fetched.purchase_id is None
    assert fetched.payment_id == payment.payment_id


async def test_an_unknown_payment_is_not_found(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    with pytest.raises(PaymentNotFound, match="not_found"):
        await gateway.fetch_payment(UNKNOWN_ID)
    assert len(standin.requests_log) == 1


async def test_a_404_on_create_is_rejected(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    standin.fail_next(404)
    with pytest.raises(PaymentGatewayRejected, match="HTTP 404"):
        await gateway.create_payment(make_request())


@pytest.mark.parametrize(
    "payment_id",
    [
        "",
        "../payments",
        "2419a771-000f-5000-9000-1edaf29243f2/cancel",
        "2419a771 000f 5000 9000 1edaf29243f2",
        "x" * 36,
        "2419a771-000f-5000-9000-1edaf29243f2?a=1",
        "2419a771-000f-5000-9000-1edaf29243f2\n",
    ],
)
async def test_a_malformed_id_is_refused_without_a_request(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, payment_id: str
) -> None:
    with pytest.raises(PaymentNotFound):
        await gateway.fetch_payment(payment_id)
    assert standin.requests_log == []


@pytest.mark.parametrize("status", [400, 401, 403, 405, 409, 410, 415, 422])
async def test_a_refusal_is_rejected_with_yookassas_explanation(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, status: int
) -> None:
    error_id = str(uuid.uuid4())
    standin.fail_next(
        status,
        body={
            "type": "error",
            "id": error_id,
            "code": "invalid_request",
            "description": "Receipt is missing or illegal",
            "parameter": "receipt",
        },
    )
    with pytest.raises(PaymentGatewayRejected) as caught:
        await gateway.create_payment(make_request())
    message = str(caught.value)
    assert f"HTTP {status}" in message
    for part in ("invalid_request", "Receipt is missing or illegal", "receipt", error_id):
        assert part in message


async def test_wrong_credentials_are_rejected(
    make_gateway: Callable[..., YooKassaPaymentGateway], standin: YooKassaStandIn
) -> None:
    gateway = make_gateway(SHOP_ID, "wrong_secret")
    with pytest.raises(PaymentGatewayRejected, match="invalid_credentials"):
        await gateway.create_payment(make_request())
    assert standin.payments == {}
    assert standin.requests_log[0].headers["authorization"] == basic(SHOP_ID, "wrong_secret")


@pytest.mark.parametrize("status", [502, 404, 400, 200])
async def test_a_non_json_page_is_unavailable(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, status: int
) -> None:
    standin.fail_next(status, body="<html><body><h1>502 Bad Gateway</h1>nginx</body></html>")
    with pytest.raises(PaymentGatewayUnavailable, match=f"HTTP {status}"):
        await gateway.fetch_payment(UNKNOWN_ID)


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "2419a771-000f-5000-9000-1edaf29243f2", "status": "pending"},  # no amount
        {
            "id": "2419a771-000f-5000-9000-1edaf29243f2",
            "status": "refunded",
            "amount": {"value": "1.00", "currency": "RUB"},
        },
        {
            "id": "2419a771-000f-5000-9000-1edaf29243f2",
            "status": "pending",
            "amount": {"value": 1.0, "currency": "RUB"},
        },
        {
            "id": "2419a771-000f-5000-9000-1edaf29243f2",
            "status": "pending",
            "amount": {"value": "1.00", "currency": "rub"},
        },
        {"id": "../x", "status": "pending", "amount": {"value": "1.00", "currency": "RUB"}},
        {
            "id": "00000000-000f-5000-9000-000000000000",  # not the payment asked for
            "status": "pending",
            "amount": {"value": "1.00", "currency": "RUB"},
        },
        [1, 2, 3],
        [],
        {"x": "pending"},
    ],
)
async def test_an_unreadable_payment_is_unavailable(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, answer: object
) -> None:
    standin.fail_next(200, body=answer)  # type: ignore[arg-type]
    with pytest.raises(PaymentGatewayUnavailable):
        await gateway.fetch_payment(UNKNOWN_ID)


async def test_an_unreadable_created_payment_is_unavailable(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn
) -> None:
    standin.fail_next(200, body={"id": "../x", "status": "pending"})
    with pytest.raises(PaymentGatewayUnavailable, match="cannot read"):
        await gateway.create_payment(make_request())


# --- clients, credentials, connections ---------------------------------------------------------


async def test_calls_reuse_one_kept_alive_connection(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    created = await gateway.create_payment(make_request())
    for _ in range(4):
        await gateway.fetch_payment(created.payment_id)
    await gateway.create_payment(make_request())
    ports = {r.client for r in standin.requests_log}
    assert len(standin.requests_log) == 6
    assert len(ports) == 1 and None not in ports


async def test_a_shop_and_a_payout_agent_keep_their_own_credentials_concurrently(
    make_gateway: Callable[..., YooKassaPaymentGateway], standin: YooKassaStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK's process-global configuration points somewhere else entirely: it must not be read.
    monkeypatch.setattr(yookassa.Configuration, "account_id", "999999")
    monkeypatch.setattr(yookassa.Configuration, "secret_key", "global_secret")
    monkeypatch.setattr(yookassa.Configuration, "api_url", f"{refused_url()}/v3")
    shop = make_gateway(SHOP_ID, SECRET)
    agent = make_gateway(AGENT_ID, AGENT_SECRET)

    calls = []
    for _ in range(8):
        calls += [shop.create_payment(make_request()), agent.create_payment(make_request())]
    payments = await asyncio.gather(*calls)
    fetched = await asyncio.gather(
        *((shop if n % 2 == 0 else agent).fetch_payment(p.payment_id) for n, p in enumerate(payments))
    )
    assert [p.payment_id for p in payments] == [p.payment_id for p in fetched]

    by_account: dict[str | None, list[str]] = {}
    for r in standin.requests_log:
        by_account.setdefault(r.account_id, []).append(r.headers["authorization"])
    assert set(by_account) == {SHOP_ID, AGENT_ID}
    assert set(by_account[SHOP_ID]) == {basic(SHOP_ID, SECRET)} and len(by_account[SHOP_ID]) == 16
    assert set(by_account[AGENT_ID]) == {basic(AGENT_ID, AGENT_SECRET)} and len(by_account[AGENT_ID]) == 16
    assert {p.payment_id for p in payments[0::2]} == {i for i, owner in standin.owners.items() if owner == SHOP_ID}
    assert {p.payment_id for p in payments[1::2]} == {i for i, owner in standin.owners.items() if owner == AGENT_ID}
    # each gateway has its own connection pool: no connection carried both accounts' requests
    shop_ports = {r.client for r in standin.requests_log if r.account_id == SHOP_ID}
    agent_ports = {r.client for r in standin.requests_log if r.account_id == AGENT_ID}
    assert not shop_ports & agent_ports

    # one account cannot see the other's payments
    with pytest.raises(PaymentNotFound):
        await agent.fetch_payment(payments[0].payment_id)


async def test_the_same_key_under_two_accounts_makes_two_payments(
    make_gateway: Callable[..., YooKassaPaymentGateway], standin: YooKassaStandIn
) -> None:
    shop, agent = make_gateway(SHOP_ID, SECRET), make_gateway(AGENT_ID, AGENT_SECRET)
    one = await shop.create_payment(make_request(key="same-key"))
    two = await agent.create_payment(make_request(key="same-key"))
    assert one.payment_id != two.payment_id
    assert standin.owners == {one.payment_id: SHOP_ID, two.payment_id: AGENT_ID}


async def test_an_injected_client_is_used_and_left_open(api_url: str, standin: YooKassaStandIn) -> None:
    api = YooKassaApi(AGENT_ID, AGENT_SECRET, api_url=api_url, timeout=2.0)
    gateway = YooKassaPaymentGateway(api=api, vat_code=4)
    try:
        payment = await gateway.create_payment(make_request())
        await gateway.aclose()  # not its client: still open
        assert (await gateway.fetch_payment(payment.payment_id)).payment_id == payment.payment_id
    finally:
        await api.aclose()
    assert {r.account_id for r in standin.requests_log} == {AGENT_ID}
    with pytest.raises(PaymentGatewayUnavailable, match="closed"):
        await gateway.fetch_payment(payment.payment_id)
    with pytest.raises(ValueError, match="differs"):
        YooKassaPaymentGateway(SHOP_ID, SECRET, api=api)


async def test_aclose_closes_the_client_the_gateway_made(api_url: str, standin: YooKassaStandIn) -> None:
    gateway = YooKassaPaymentGateway(SHOP_ID, SECRET, api_url=api_url, timeout=2.0)
    await gateway.create_payment(make_request())
    await gateway.aclose()
    with pytest.raises(PaymentGatewayUnavailable, match="closed"):
        await gateway.create_payment(make_request())
    assert len(standin.requests_log) == 1


async def test_repr_never_shows_the_secret() -> None:
    gateway = YooKassaPaymentGateway(SHOP_ID, "very-secret-value", api_url="https://api.example.test/v3")
    api = YooKassaApi(AGENT_ID, "another-secret-value")
    try:
        for text in (repr(gateway), str(gateway), repr(api)):
            assert "secret-value" not in text
        assert SHOP_ID in repr(gateway) and AGENT_ID in repr(api)
    finally:
        await gateway.aclose()
        await api.aclose()


@pytest.mark.parametrize(
    "kwargs",
    [{"shop_id": "", "secret_key": SECRET}, {"shop_id": SHOP_ID, "secret_key": ""}, {"timeout": 0}, {"vat_code": 13}],
)
async def test_bad_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        YooKassaPaymentGateway(**{"shop_id": SHOP_ID, "secret_key": SECRET, **kwargs})


async def test_httpx_finds_its_event_loop_without_a_failing_import_per_request() -> None:
    """httpcore imports sniffio on every request; if it is missing, each request searches sys.path."""
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None
