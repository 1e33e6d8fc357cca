"""YooKassa payments through the official (synchronous, requests-based) ``yookassa`` SDK.

The SDK keeps its settings in process-global class state and sets no request timeout. This
adapter therefore never touches ``yookassa.Configuration``: it does what ``Payment.create`` and
``Payment.find_one`` do (the SDK's request model validates and serialises the body, then
``ApiClient.request``), but with an ``ApiClient`` of its own per call that carries this gateway's
shop id, secret key and API URL, and a requests session with a timeout on every socket operation. Calls run in a worker thread under an overall deadline,
and every failure is translated into the port's errors here.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3 import Retry
from yookassa.client import ApiClient
from yookassa.domain.common import HttpVerb, UserAgent
from yookassa.domain.exceptions import ApiError
from yookassa.domain.request import PaymentRequest as SdkPaymentRequest

from application.ports.payment_gateway import (
    Payment,
    PaymentGatewayError,
    PaymentGatewayRejected,
    PaymentGatewayUnavailable,
    PaymentNotFound,
    PaymentRequest,
)
from domain.errors import DomainError
from domain.ids import PurchaseId
from domain.money import Currency, Money
from domain.purchase import PaymentStatus

_PAYMENTS = "/payments"
# YooKassa payment ids are 36-character UUID-shaped strings, e.g. 2419a771-000f-5000-9000-1edaf29243f2.
_PAYMENT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEY_LIMIT = 64  # YooKassa's limit on an Idempotence-Key
_KEY_CHARS = re.compile(r"[\x21-\x7e]+")  # visible ASCII, safe in a header
_DESCRIPTION_LIMIT = 128  # YooKassa's limit for a payment's and a receipt item's description
_REJECTED_STATUSES = frozenset({400, 401, 403, 405, 409, 410, 415, 422})
_SDK_202_BACKOFF_MS = 1800  # the SDK's default ``Configuration.timeout``: backoff base for 202 retries
_SDK_202_ATTEMPTS = 3  # the SDK's default ``Configuration.max_attempts``

_T = TypeVar("_T")


class _TimeoutSession(requests.Session):
    """A session that puts a timeout on every request and remembers the last status code."""

    def __init__(self, timeout: float, on_status: Callable[[int], None]) -> None:
        super().__init__()
        self._timeout = timeout
        self._on_status = on_status

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        response = super().request(method, url, *args, **kwargs)
        self._on_status(response.status_code)
        return response


class _ShopApiClient(ApiClient):  # type: ignore[misc]
    """The SDK's HTTP client, configured by its constructor instead of the global ``Configuration``.

    One instance serves one call (it records the status code of the answer it got)."""

    def __init__(self, shop_id: str, secret_key: str, api_url: str, timeout: float, user_agent: UserAgent) -> None:
        # ApiClient.__init__ is deliberately not called: it reads the process-global Configuration.
        self.configuration = SimpleNamespace(verify=None)  # the only setting ApiClient.execute reads
        self.endpoint = api_url
        self.shop_id = shop_id
        self.shop_password = secret_key
        self.auth_token = None
        self.timeout = _SDK_202_BACKOFF_MS
        self.max_attempts = _SDK_202_ATTEMPTS
        self.user_agent = user_agent
        self.request_timeout = timeout
        self.last_status: int | None = None

    def _record_status(self, status: int) -> None:
        self.last_status = status

    def get_session(self) -> requests.Session:
        """Like the SDK's session (retry a 202 "still processing" answer, https only), plus a
        timeout; connection and read failures are not retried here: the caller decides."""
        session = _TimeoutSession(self.request_timeout, self._record_status)
        retries = Retry(
            total=self.max_attempts,
            connect=0,
            read=0,
            other=0,
            backoff_factor=self.timeout / 1000,
            allowed_methods=["POST"],
            status_forcelist=[202],
        )
        session.mount("https://", HTTPAdapter(max_retries=retries))
        return session


class YooKassaPaymentGateway:
    """``PaymentGateway`` over the YooKassa API v3 (basic auth with the shop id and secret key).

    ``timeout`` bounds every connect and read on the wire; a whole call (including the SDK's
    retries of a 202 answer) is abandoned after ``2 * timeout``."""

    def __init__(
        self,
        shop_id: str,
        secret_key: str,
        *,
        api_url: str = "https://api.yookassa.ru/v3",
        vat_code: int = 1,
        timeout: float = 15.0,
    ) -> None:
        if not shop_id or not secret_key:
            raise ValueError("YooKassa needs a shop id and a secret key")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._shop_id = shop_id
        self._secret_key = secret_key
        self._api_url = api_url.rstrip("/")
        self._vat_code = vat_code
        self._timeout = timeout
        self._deadline = 2 * timeout
        self._user_agent = UserAgent()  # inspects the OS once, not per call

    def __repr__(self) -> str:  # never shows the secret key
        return f"{type(self).__name__}(shop_id={self._shop_id!r}, api_url={self._api_url!r})"

    async def create_payment(self, request: PaymentRequest) -> Payment:
        key = request.idempotency_key
        if not isinstance(key, str) or len(key) > _KEY_LIMIT or not _KEY_CHARS.fullmatch(key):
            # Never let the SDK invent a key: a retry would then be a second payment.
            raise PaymentGatewayRejected(f"an idempotency key is 1-{_KEY_LIMIT} visible ASCII characters, got {key!r}")
        body = self._payment_body(request)
        headers = {"Idempotence-Key": key}
        raw = await self._call(
            "create payment",
            lambda client: client.request(HttpVerb.POST, _PAYMENTS, None, headers, SdkPaymentRequest(body)),
            not_found=PaymentGatewayRejected,
        )
        return _payment_from(raw)

    async def fetch_payment(self, payment_id: str) -> Payment:
        if not isinstance(payment_id, str) or not _PAYMENT_ID.fullmatch(payment_id):
            raise PaymentNotFound(f"not a YooKassa payment id: {payment_id!r}")
        raw = await self._call(
            f"fetch payment {payment_id}",
            lambda client: client.request(HttpVerb.GET, f"{_PAYMENTS}/{payment_id}"),
            not_found=PaymentNotFound,
        )
        payment = _payment_from(raw)
        if payment.payment_id != payment_id:
            raise PaymentGatewayUnavailable(f"asked YooKassa for payment {payment_id}, got {payment.payment_id}")
        return payment

    def _payment_body(self, request: PaymentRequest) -> dict[str, Any]:
        amount = {"value": request.amount.to_decimal_string(), "currency": request.amount.currency.code}
        description = request.description[:_DESCRIPTION_LIMIT]
        body: dict[str, Any] = {
            "amount": amount,
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": request.return_url},
            "description": description,
            "metadata": {"purchase_id": str(request.purchase_id)},
        }
        if request.receipt:
            body["receipt"] = {
                "customer": {"email": str(request.customer_email)},
                "items": [
                    {
                        "description": description,
                        "quantity": "1.00",
                        "amount": amount,
                        "vat_code": self._vat_code,
                        "payment_subject": "service",
                        "payment_mode": "full_payment",
                    }
                ],
            }
        return body

    async def _call(
        self,
        what: str,
        call: Callable[[_ShopApiClient], _T],
        *,
        not_found: type[PaymentGatewayError],
    ) -> _T:
        client = _ShopApiClient(self._shop_id, self._secret_key, self._api_url, self._timeout, self._user_agent)
        try:
            return await asyncio.wait_for(asyncio.to_thread(functools.partial(call, client)), self._deadline)
        except TimeoutError as exc:
            raise PaymentGatewayUnavailable(f"YooKassa: {what}: no answer within {self._deadline:g} s") from exc
        except Exception as exc:  # the SDK's failures come in many shapes; none may leave this adapter
            raise _translate(what, exc, client.last_status, not_found) from exc


def _translate(what: str, exc: Exception, status: int | None, not_found: type[PaymentGatewayError]) -> PaymentGatewayError:
    """The port's error for whatever the SDK raised; ``status`` is the HTTP status of the answer,
    or ``None`` when none arrived."""
    if isinstance(exc, ApiError) and status is not None:  # YooKassa answered with a JSON error
        message = f"YooKassa: {what}: HTTP {status}{_api_error_detail(exc)}"
        if status == 404:
            return not_found(message)
        if status in _REJECTED_STATUSES:
            return PaymentGatewayRejected(message)
        return PaymentGatewayUnavailable(message)  # 202 still processing, 429, 5xx
    where = f"HTTP {status}" if status is not None else "no answer"
    transport = _transport_error(exc)
    if transport is not None:  # refused, timed out, reset, a non-JSON page, retries exhausted
        return PaymentGatewayUnavailable(f"YooKassa: {what}: {where}: {type(transport).__name__}: {transport}")
    if status is None and isinstance(exc, (ValueError, TypeError)):  # the SDK refused to send our request
        return PaymentGatewayRejected(f"YooKassa: {what}: invalid request: {exc}")
    return PaymentGatewayUnavailable(f"YooKassa: {what}: {where}: {type(exc).__name__}: {exc}")


def _transport_error(exc: BaseException) -> requests.RequestException | None:
    """The requests exception behind ``exc``: the SDK hides a failed connection behind an
    ``AttributeError`` raised while handling it."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, requests.RequestException):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _api_error_detail(exc: ApiError) -> str:
    if not isinstance(exc.content, Mapping):
        return ""
    content = exc.content
    parts = [str(content[k]) for k in ("code", "description", "parameter") if content.get(k)]
    if content.get("id"):
        parts.append(f"error id {content['id']}")
    return ": " + "; ".join(parts) if parts else ""


def _payment_from(raw: object) -> Payment:
    """The port's payment from YooKassa's JSON; an answer we cannot read is the provider's failure."""
    try:
        if not isinstance(raw, Mapping):
            raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
        payment_id = raw.get("id")
        if not isinstance(payment_id, str) or not _PAYMENT_ID.fullmatch(payment_id):
            raise ValueError(f"bad payment id {payment_id!r}")
        status = PaymentStatus(raw.get("status"))
        amount = raw.get("amount")
        if not isinstance(amount, Mapping):
            raise ValueError("no amount")
        money = Money.parse(amount.get("value"), Currency(amount.get("currency")))
        confirmation = raw.get("confirmation")
        url = confirmation.get("confirmation_url") if isinstance(confirmation, Mapping) else None
    except (ValueError, TypeError, DomainError) as exc:
        raise PaymentGatewayUnavailable(f"YooKassa answered a payment we cannot read: {exc}") from exc
    return Payment(
        payment_id=payment_id,
        status=status,
        amount=money,
        purchase_id=_purchase_id(raw.get("metadata")),
        confirmation_url=url if isinstance(url, str) and url else None,
    )


def _purchase_id(metadata: object) -> PurchaseId | None:
    if not isinstance(metadata, Mapping):
        return None
    try:
        return PurchaseId.parse(metadata.get("purchase_id"))  # type: ignore[no-any-return]
    except DomainError:
        return None
