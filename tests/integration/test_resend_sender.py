"""``ResendEmailSender`` over real HTTP against a loopback Resend stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
import pytest_asyncio

from adapters.resend import ResendEmailSender
from application.ports.messaging import DeliveryError, OutgoingEmail
from domain.email import Email
from tests.standins.resend import ResendStandIn
from tests.standins.server import Switchboard, refused_url, serve_asgi

pytestmark = pytest.mark.asyncio(loop_scope="module")

API_KEY = "re_test_key"
SENDER = "Aimpay <school@aimpay.example>"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[tuple[Switchboard, str]]:
    switch = Switchboard()
    async with serve_asgi(switch) as base:
        yield switch, base


@pytest.fixture
def standin(server: tuple[Switchboard, str]) -> Iterator[ResendStandIn]:
    switch, _ = server
    switch.target = ResendStandIn(API_KEY)
    yield switch.target
    switch.target = None


@pytest_asyncio.fixture(loop_scope="module")
async def make_sender(
    server: tuple[Switchboard, str], standin: ResendStandIn
) -> AsyncIterator[Callable[..., ResendEmailSender]]:
    made: list[ResendEmailSender] = []

    def make(
        api_key: str = API_KEY, sender: str = SENDER, *, api_url: str | None = None, timeout: float = 2.0
    ) -> ResendEmailSender:
        made.append(ResendEmailSender(api_key, sender, api_url=api_url or server[1], timeout=timeout))
        return made[-1]

    yield make
    for sender in made:
        await sender.aclose()


@pytest.fixture
def sender(make_sender: Callable[..., ResendEmailSender]) -> ResendEmailSender:
    return make_sender()


def letter(subject: str = "Your course access", to: str = "buyer@example.com") -> OutgoingEmail:
    return OutgoingEmail(
        to=Email(to),
        subject=subject,
        text="Join: https://t.me/+abc",
        html="<p>Join: <a href='https://t.me/+abc'>chat</a></p>",
    )


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.01)


async def test_an_email_goes_out_as_resend_expects(sender: ResendEmailSender, standin: ResendStandIn) -> None:
    await sender.send(letter(), idempotency_key="purchase:1:email")

    [sent] = standin.requests_log
    assert (sent.method, sent.path) == ("POST", "/emails")
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["idempotency-key"] == "purchase:1:email"
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == {
        "from": SENDER,
        "to": ["buyer@example.com"],
        "subject": "Your course access",
        "html": "<p>Join: <a href='https://t.me/+abc'>chat</a></p>",
        "text": "Join: https://t.me/+abc",
    }
    [email] = standin.emails
    assert (email.sender, email.to, email.subject) == (SENDER, ("buyer@example.com",), "Your course access")


async def test_the_same_key_sends_one_email(sender: ResendEmailSender, standin: ResendStandIn) -> None:
    await sender.send(letter(), idempotency_key="purchase:1:email")
    await sender.send(letter(), idempotency_key="purchase:1:email")
    await sender.send(letter(), idempotency_key="purchase:2:email")
    assert len(standin.requests_log) == 3
    assert [e.idempotency_key for e in standin.emails] == ["purchase:1:email", "purchase:2:email"]


async def test_a_key_reused_for_another_email_is_permanent(sender: ResendEmailSender, standin: ResendStandIn) -> None:
    await sender.send(letter(), idempotency_key="k")
    with pytest.raises(DeliveryError, match="invalid_idempotent_request") as caught:
        await sender.send(letter(subject="Something else"), idempotency_key="k")
    assert caught.value.permanent is True
    assert len(standin.emails) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 409])
async def test_rate_limits_and_server_errors_are_transient(
    sender: ResendEmailSender, standin: ResendStandIn, status: int
) -> None:
    standin.fail_next(status)
    with pytest.raises(DeliveryError, match=f"HTTP {status}") as caught:
        await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is False
    await sender.send(letter(), idempotency_key="k")  # the retry goes through, once
    assert len(standin.emails) == 1


async def test_a_rate_limit_reports_retry_after(sender: ResendEmailSender, standin: ResendStandIn) -> None:
    standin.fail_next(429, headers={"retry-after": "7"})
    with pytest.raises(DeliveryError, match="retry after 7") as caught:
        await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is False


async def test_an_html_error_page_is_transient(sender: ResendEmailSender, standin: ResendStandIn) -> None:
    standin.fail_next(502, body="<html><h1>502 Bad Gateway</h1></html>")
    with pytest.raises(DeliveryError, match="502") as caught:
        await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is False


async def test_a_refused_message_is_permanent_with_resends_reason(
    make_sender: Callable[..., ResendEmailSender], standin: ResendStandIn
) -> None:
    sender = make_sender(sender="not an address")
    with pytest.raises(DeliveryError, match="validation_error: Invalid `from` field") as caught:
        await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is True
    assert standin.emails == []


@pytest.mark.parametrize("status", [400, 422])
async def test_a_validation_error_is_permanent(sender: ResendEmailSender, standin: ResendStandIn, status: int) -> None:
    standin.fail_next(status)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is True


async def test_a_wrong_api_key_is_transient_and_says_so(
    make_sender: Callable[..., ResendEmailSender], standin: ResendStandIn
) -> None:
    sender = make_sender(api_key="re_wrong")
    with pytest.raises(DeliveryError, match=r"403 invalid_api_key.*API key") as caught:
        await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is False
    assert standin.emails == []
    assert standin.requests_log[0].headers["authorization"] == "Bearer re_wrong"


async def test_an_unauthorized_answer_is_transient(sender: ResendEmailSender, standin: ResendStandIn) -> None:
    standin.fail_next(401)
    with pytest.raises(DeliveryError, match=r"401.*API key") as caught:
        await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is False


async def test_a_hung_server_is_transient_within_the_timeout(
    make_sender: Callable[..., ResendEmailSender], standin: ResendStandIn
) -> None:
    sender = make_sender(timeout=0.5)
    standin.hang_next(seconds=30)
    async with asyncio.timeout(5):  # a guard against hanging forever, not a speed test
        with pytest.raises(DeliveryError) as caught:
            await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is False
    await eventually(lambda: standin.abandoned == 1)
    assert standin.emails == []


async def test_a_refused_connection_is_transient(make_sender: Callable[..., ResendEmailSender]) -> None:
    sender = make_sender(api_url=refused_url())
    async with asyncio.timeout(5):
        with pytest.raises(DeliveryError, match="ConnectError") as caught:
            await sender.send(letter(), idempotency_key="k")
    assert caught.value.permanent is False


@pytest.mark.parametrize("key", ["outbox:" + "x" * 300, "письмо:1", "with space", "key\n"])
async def test_a_long_or_unsafe_key_is_hashed_the_same_way_every_time(
    sender: ResendEmailSender, standin: ResendStandIn, key: str
) -> None:
    await sender.send(letter(), idempotency_key=key)
    await sender.send(letter(), idempotency_key=key)
    first, second = (r.headers["idempotency-key"] for r in standin.requests_log)
    assert first == second
    assert first != key and len(first) <= 256
    assert len(standin.emails) == 1


async def test_an_empty_key_is_refused_without_a_request(sender: ResendEmailSender, standin: ResendStandIn) -> None:
    with pytest.raises(DeliveryError) as caught:
        await sender.send(letter(), idempotency_key="")
    assert caught.value.permanent is True
    assert standin.requests_log == []


async def test_a_given_client_is_left_open(server: tuple[Switchboard, str], standin: ResendStandIn) -> None:
    async with httpx.AsyncClient() as client:
        sender = ResendEmailSender(API_KEY, SENDER, api_url=server[1], client=client)
        await sender.send(letter(), idempotency_key="k")
        await sender.aclose()
        assert not client.is_closed
    assert len(standin.emails) == 1
