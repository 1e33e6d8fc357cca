"""The real YooKassa SDK, driven by ``YooKassaPaymentGateway``, against a loopback stand-in."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
import yookassa

from adapters.yookassa import YooKassaPaymentGateway
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


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[tuple[Switchboard, str]]:
    switch = Switchboard()
    async with serve_asgi(switch) as base:
        yield switch, f"{base}/v3"


@pytest.fixture
def standin(server: tuple[Switchboard, str]) -> Iterator[YooKassaStandIn]:
    switch, _ = server
    switch.target = YooKassaStandIn(SHOP_ID, SECRET)
    yield switch.target
    switch.target = None


@pytest.fixture
def api_url(server: tuple[Switchboard, str], standin: YooKassaStandIn) -> str:
    return server[1]


@pytest.fixture
def gateway(api_url: str) -> YooKassaPaymentGateway:
    return YooKassaPaymentGateway(SHOP_ID, SECRET, api_url=api_url, vat_code=4, timeout=2.0)


def make_request(*, receipt: bool = True, amount: Money = Money(499_000), description: str = "AI course", key: str | None = None) -> PaymentRequest:
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


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.01)


async def test_create_sends_the_payment_yookassa_expects(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    request = make_request(receipt=True)
    payment = await gateway.create_payment(request)

    [sent] = standin.requests_log
    assert (sent.method, sent.path) == ("POST", "/v3/payments")
    assert sent.headers["idempotence-key"] == request.idempotency_key
    assert sent.headers["authorization"] == basic(SHOP_ID, SECRET)
    body = sent.body
    assert body["amount"] == {"value": "4990.00", "currency": "RUB"}
    assert body["capture"] is True
    assert body["confirmation"] == {"type": "redirect", "return_url": "https://t.me/aimpay_bot"}
    assert body["description"] == "AI course"
    assert body["metadata"] == {"purchase_id": str(request.purchase_id)}
    assert body["receipt"]["customer"] == {"email": "buyer@example.com"}
    [item] = body["receipt"]["items"]
    assert item["amount"] == {"value": "4990.00", "currency": "RUB"}
    assert item["vat_code"] == 4
    assert (item["payment_subject"], item["payment_mode"], item["description"]) == ("service", "full_payment", "AI course")
    assert float(item["quantity"]) == 1.0

    stored = standin.payments[payment.payment_id]
    assert payment.status is PaymentStatus.PENDING
    assert payment.amount == Money(499_000)
    assert payment.purchase_id == request.purchase_id
    assert payment.confirmation_url == stored["confirmation"]["confirmation_url"]
    assert standin.create_count == 1


async def test_create_without_receipt_sends_none(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    await gateway.create_payment(make_request(receipt=False))
    [sent] = standin.requests_log
    assert "receipt" not in sent.body
    assert standin.create_count == 1


async def test_long_description_is_cut_to_128_characters(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    payment = await gateway.create_payment(make_request(description="Курс " * 60))
    body = standin.requests_log[0].body
    assert len(body["description"]) == 128
    assert len(body["receipt"]["items"][0]["description"]) == 128
    assert standin.payments[payment.payment_id]["description"] == body["description"]


async def test_a_retried_create_returns_the_same_payment(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    request = make_request()
    first = await gateway.create_payment(request)
    again = await gateway.create_payment(request)
    assert again == first
    assert len(standin.requests_log) == 2
    assert standin.create_count == 1


async def test_same_key_with_another_body_is_rejected(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    await gateway.create_payment(make_request(key="key-1"))
    with pytest.raises(PaymentGatewayRejected, match="Idempotence key duplicated"):
        await gateway.create_payment(make_request(key="key-1", amount=Money(100)))
    assert standin.create_count == 1


@pytest.mark.parametrize("key", ["", "k" * 65, "ключ", "two words", "key\n"])
async def test_an_unusable_idempotency_key_is_rejected_without_a_call(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, key: str
) -> None:
    with pytest.raises(PaymentGatewayRejected):
        await gateway.create_payment(make_request(key=key))
    assert standin.requests_log == []


async def test_a_request_the_sdk_refuses_is_rejected_without_a_call(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    with pytest.raises(PaymentGatewayRejected):
        await gateway.create_payment(make_request(amount=Money(0)))
    assert standin.requests_log == []


async def test_fetch_follows_the_payment_to_its_final_state(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    paid = await gateway.create_payment(make_request())
    dropped = await gateway.create_payment(make_request())
    assert (await gateway.fetch_payment(paid.payment_id)).status is PaymentStatus.PENDING

    standin.succeed(paid.payment_id)
    standin.cancel(dropped.payment_id)
    standin.cancel(paid.payment_id)  # final states never change back
    standin.succeed(dropped.payment_id)

    got_paid = await gateway.fetch_payment(paid.payment_id)
    got_dropped = await gateway.fetch_payment(dropped.payment_id)
    assert (got_paid.status, got_paid.amount, got_paid.purchase_id) == (PaymentStatus.SUCCEEDED, Money(499_000), paid.purchase_id)
    assert got_dropped.status is PaymentStatus.CANCELED
    assert got_dropped.confirmation_url is None
    assert standin.requests_log[-1].path == f"/v3/payments/{dropped.payment_id}"
    assert standin.requests_log[-1].headers["authorization"] == basic(SHOP_ID, SECRET)


@pytest.mark.parametrize("metadata", [{}, {"purchase_id": "not-a-uuid"}, {"cms_name": "other"}])
async def test_a_payment_without_our_purchase_id_has_none(
    gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, metadata: dict[str, str]
) -> None:
    payment = await gateway.create_payment(make_request())
    standin.payments[payment.payment_id]["metadata"] = metadata
    fetched = await gateway.fetch_payment(payment.payment_id)
    assert fetched.purchase_id is None
    assert fetched.payment_id == payment.payment_id


async def test_an_unknown_payment_is_not_found(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    with pytest.raises(PaymentNotFound):
        await gateway.fetch_payment("2419a771-000f-5000-9000-1edaf29243f2")
    assert len(standin.requests_log) == 1


@pytest.mark.parametrize(
    "payment_id",
    ["", "../payments", "2419a771-000f-5000-9000-1edaf29243f2/cancel", "2419a771 000f 5000 9000 1edaf29243f2", "x" * 36, "2419a771-000f-5000-9000-1edaf29243f2?a=1",
     "2419a771-000f-5000-9000-1edaf29243f2\n"],
)
async def test_a_malformed_id_is_refused_without_a_request(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, payment_id: str) -> None:
    with pytest.raises(PaymentNotFound):
        await gateway.fetch_payment(payment_id)
    assert standin.requests_log == []


@pytest.mark.parametrize("status", [500, 502, 503, 429, 202])
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


async def test_a_server_failure_on_fetch_is_unavailable(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn) -> None:
    payment = await gateway.create_payment(make_request())
    standin.fail_next(500)
    with pytest.raises(PaymentGatewayUnavailable):
        await gateway.fetch_payment(payment.payment_id)


async def test_wrong_credentials_are_rejected(api_url: str, standin: YooKassaStandIn) -> None:
    gateway = YooKassaPaymentGateway(SHOP_ID, "wrong_secret", api_url=api_url, timeout=2.0)
    with pytest.raises(PaymentGatewayRejected, match="invalid_credentials"):
        await gateway.create_payment(make_request())
    assert standin.payments == {}
    assert standin.requests_log[0].headers["authorization"] == basic(SHOP_ID, "wrong_secret")


async def test_a_hung_server_is_unavailable_and_the_connection_is_dropped(api_url: str, standin: YooKassaStandIn) -> None:
    gateway = YooKassaPaymentGateway(SHOP_ID, SECRET, api_url=api_url, timeout=0.5)
    standin.hang_next(seconds=30)
    async with asyncio.timeout(5):  # a guard against hanging forever, not a speed test
        with pytest.raises(PaymentGatewayUnavailable):
            await gateway.create_payment(make_request())
    await eventually(lambda: standin.abandoned == 1)  # the worker thread gave up the socket
    assert standin.payments == {}


async def test_a_lost_answer_is_unavailable_and_the_retry_finds_the_payment(api_url: str, standin: YooKassaStandIn) -> None:
    gateway = YooKassaPaymentGateway(SHOP_ID, SECRET, api_url=api_url, timeout=0.5)
    request = make_request()
    standin.hang_next(seconds=30, process=True)
    async with asyncio.timeout(5):
        with pytest.raises(PaymentGatewayUnavailable):
            await gateway.create_payment(request)
    [created] = standin.payments
    payment = await gateway.create_payment(request)
    assert payment.payment_id == created
    assert standin.create_count == 1


async def test_a_refused_connection_is_unavailable() -> None:
    gateway = YooKassaPaymentGateway(SHOP_ID, SECRET, api_url=f"{refused_url()}/v3", timeout=2.0)
    async with asyncio.timeout(5):
        with pytest.raises(PaymentGatewayUnavailable, match="ConnectionError"):
            await gateway.create_payment(make_request())
        with pytest.raises(PaymentGatewayUnavailable):
            await gateway.fetch_payment("2419a771-000f-5000-9000-1edaf29243f2")


@pytest.mark.parametrize("status", [502, 404, 400, 200])
async def test_a_non_json_page_is_unavailable(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, status: int) -> None:
    standin.fail_next(status, body="<html><body><h1>502 Bad Gateway</h1>nginx</body></html>")
    with pytest.raises(PaymentGatewayUnavailable):
        await gateway.fetch_payment("2419a771-000f-5000-9000-1edaf29243f2")


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "2419a771-000f-5000-9000-1edaf29243f2", "status": "pending"},  # no amount
        {"id": "2419a771-000f-5000-9000-1edaf29243f2", "status": "refunded", "amount": {"value": "1.00", "currency": "RUB"}},
        {"id": "2419a771-000f-5000-9000-1edaf29243f2", "status": "pending", "amount": {"value": 1.0, "currency": "RUB"}},
        {"id": "2419a771-000f-5000-9000-1edaf29243f2", "status": "pending", "amount": {"value": "1.00", "currency": "rub"}},
        {"id": "../x", "status": "pending", "amount": {"value": "1.00", "currency": "RUB"}},
        {"id": "00000000-000f-5000-9000-000000000000", "status": "pending", "amount": {"value": "1.00", "currency": "RUB"}},
        [1, 2, 3],
    ],
)
async def test_an_unreadable_payment_is_unavailable(gateway: YooKassaPaymentGateway, standin: YooKassaStandIn, answer: object) -> None:
    standin.fail_next(200, body=answer)  # type: ignore[arg-type]
    with pytest.raises(PaymentGatewayUnavailable):
        await gateway.fetch_payment("2419a771-000f-5000-9000-1edaf29243f2")


async def test_two_gateways_in_one_process_keep_their_own_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's process-global configuration points somewhere else entirely: it must not be read.
    monkeypatch.setattr(yookassa.Configuration, "account_id", "999999")
    monkeypatch.setattr(yookassa.Configuration, "secret_key", "global_secret")
    monkeypatch.setattr(yookassa.Configuration, "api_url", f"{refused_url()}/v3")
    first = YooKassaStandIn("111111", "secret_one")
    second = YooKassaStandIn("222222", "secret_two")
    async with serve_asgi(first.app) as url_one, serve_asgi(second.app) as url_two:
        gateway_one = YooKassaPaymentGateway("111111", "secret_one", api_url=f"{url_one}/v3", timeout=5.0)
        gateway_two = YooKassaPaymentGateway("222222", "secret_two", api_url=f"{url_two}/v3", timeout=5.0)
        calls = []
        for _ in range(8):
            calls += [gateway_one.create_payment(make_request()), gateway_two.create_payment(make_request())]
        payments = await asyncio.gather(*calls)
        fetched = await asyncio.gather(*(
            (gateway_one if n % 2 == 0 else gateway_two).fetch_payment(p.payment_id) for n, p in enumerate(payments)
        ))

    assert [p.payment_id for p in payments] == [p.payment_id for p in fetched]
    assert set(first.payments) == {p.payment_id for p in payments[0::2]}
    assert set(second.payments) == {p.payment_id for p in payments[1::2]}
    assert len(first.requests_log) == len(second.requests_log) == 16
    assert {r.headers["authorization"] for r in first.requests_log} == {basic("111111", "secret_one")}
    assert {r.headers["authorization"] for r in second.requests_log} == {basic("222222", "secret_two")}
