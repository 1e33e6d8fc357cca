"""A loopback stand-in of the parts of the YooKassa API v3 that aimpay uses.

Serve ``YooKassaStandIn(...).app`` with ``tests.standins.server.serve_asgi`` and point the real SDK
(or ``YooKassaPaymentGateway``) at ``f"{base_url}/v3"``.

Modelled on YooKassa's public documentation:

* ``POST /v3/payments``: HTTP Basic auth with ``shop_id:secret_key`` or another credential pair
  the test added (``credentials=``, ``add_credentials``: a payout gateway's agent id and secret,
  say); 401 otherwise. Each account sees only its own payments and idempotence keys. An
  ``Idempotence-Key`` header (1-64 characters) is required. A repeat with the same key and the
  same body replays the first answer (no second payment); the same key with a different body is
  a 400. The amount (``"4990.00"``: a string, up to two decimals, positive), the description
  (up to 128 characters), the metadata and, when sent, the 54-FZ receipt (customer email or phone;
  items with description, quantity, amount and ``vat_code``; items summing to the amount) are
  validated; anything wrong is a 400 ``invalid_request``. ``require_receipt=True`` refuses
  payments without a receipt, like a shop on the standard tax scheme.
* ``GET /v3/payments/{id}``: the payment as it is now, 404 ``not_found`` for an unknown id (or
  one that belongs to another account).
* ``GET /v3/me``: the account's settings (``account_id``, ``test``, ``status``: ``enabled``, or
  what the test sets in ``status``; ``fiscalization_enabled``, ``payment_methods``).

Payments start ``pending`` and move only when the test says so (``succeed``, ``cancel``); a final
state never changes back. ``capture: false`` is accepted but not modelled (``succeed`` captures).
Faults (``fail_next``, ``hang_next``, ``processing_next``) hit the next requests of any kind, before
authentication, like a failing proxy or server in front of the API. ``processing_next`` answers
HTTP 202 ("accepted, still processing", with ``retry_after`` in milliseconds), by default after
doing the work, so a repeat with the same key gets the stored answer.

All state lives in the event loop that serves the app: call the control methods from that loop.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.server import hold_until_disconnect

_AMOUNT = re.compile(r"^\d{1,13}(\.\d{1,2})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_FINAL = frozenset({"succeeded", "canceled"})
_ERROR_CODES = {
    400: ("invalid_request", "Invalid request"),
    401: ("invalid_credentials", "Authentication by given credentials failed"),
    403: ("forbidden", "Operation is forbidden"),
    404: ("not_found", "Resource not found"),
    405: ("method_not_allowed", "Method not allowed"),
    429: ("too_many_requests", "Too many requests"),
    500: ("internal_server_error", "Internal server error"),
}


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON; the raw text when it is not JSON; None when empty
    client: tuple[str, int] | None = None  # the client's address and port: one port, one TCP connection
    account_id: str | None = None  # whose valid credentials it carried; None when unauthenticated


@dataclass
class _Fault:
    status: int | None = None  # an error answer; None for a hang
    body: str | dict[str, Any] | list[Any] | None = None
    seconds: float = 0.0
    process: bool = False  # do the work first, then hang (the answer is lost) or answer ``status``


@dataclass
class _Idempotent:
    fingerprint: str
    status: int
    answer: dict[str, Any]


class _Invalid(Exception):
    def __init__(self, description: str, parameter: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.parameter = parameter


class YooKassaStandIn:
    """YooKassa payments in memory, behind a Starlette app (``.app``).

    Inspect ``payments`` (id -> the payment's JSON as the API returns it), ``requests_log``
    (every request, faults included), ``create_count`` (payments actually created) and
    ``abandoned`` (hung requests whose client gave up and disconnected). ``owners`` maps a payment
    id to the account that created it."""

    def __init__(
        self,
        shop_id: str = "123456",
        secret_key: str = "test_secret_key",
        *,
        credentials: Mapping[str, str] | None = None,
        require_receipt: bool = False,
        test: bool = True,
        confirmation_base: str = "https://yoomoney.ru/checkout/payments/v2/contract",
    ) -> None:
        self.shop_id = shop_id
        self.secret_key = secret_key
        self.credentials: dict[str, str] = {shop_id: secret_key, **(credentials or {})}
        self.require_receipt = require_receipt
        self.test = test
        self.confirmation_base = confirmation_base
        self.status = "enabled"  # what GET /v3/me says about the shop
        self.payments: dict[str, dict[str, Any]] = {}
        self.owners: dict[str, str] = {}
        self.requests_log: list[LoggedRequest] = []
        self.create_count = 0
        self.abandoned = 0
        self._idempotent: dict[tuple[str, str], _Idempotent] = {}  # (account id, key)
        self._faults: deque[_Fault] = deque()
        self.app = Starlette(
            routes=[
                Route("/v3/payments", self._create, methods=["POST"]),
                Route("/v3/payments/{payment_id}", self._find, methods=["GET"]),
                Route("/v3/me", self._me, methods=["GET"]),
            ]
        )

    # ---- controls -------------------------------------------------------------------------

    def add_credentials(self, account_id: str, secret_key: str) -> None:
        """Another account (a payout gateway's agent id and secret, say) may call the API too."""
        self.credentials[account_id] = secret_key

    def fail_next(
        self, status_code: int, times: int = 1, *, body: str | dict[str, Any] | list[Any] | None = None
    ) -> None:
        """The next ``times`` requests get ``status_code`` without being processed. ``body``:
        None for YooKassa's JSON error, a string for a text/html page (a proxy's 502), a dict or
        list for any JSON (a 200 with a broken payment, say)."""
        self._faults.extend(_Fault(status=status_code, body=body) for _ in range(times))

    def hang_next(self, seconds: float = 3600.0, times: int = 1, *, process: bool = False) -> None:
        """The next ``times`` requests are accepted and not answered for ``seconds`` (or until the
        client disconnects, which counts in ``abandoned``). With ``process=False`` the request is
        not processed at all; with ``process=True`` it is processed first and only the answer is
        held back (a payment the client never heard of)."""
        self._faults.extend(_Fault(seconds=seconds, process=process) for _ in range(times))

    def processing_next(self, times: int = 1, *, retry_after_ms: int | None = 100, process: bool = True) -> None:
        """The next ``times`` requests get HTTP 202 "accepted, still processing" with
        ``retry_after`` (milliseconds; left out when None). With ``process=True`` the request is
        processed first, as YooKassa does: a repeat with the same key gets the stored answer."""
        body: dict[str, Any] = {"type": "processing", "description": "Request accepted but not processed yet"}
        if retry_after_ms is not None:
            body["retry_after"] = retry_after_ms
        self._faults.extend(_Fault(status=202, body=body, process=process) for _ in range(times))

    def succeed(self, payment_id: str) -> dict[str, Any]:
        """The buyer paid (captured). A canceled payment stays canceled."""
        payment = self.payments[payment_id]
        if payment["status"] in _FINAL:
            return payment
        amount = Decimal(payment["amount"]["value"])
        payment.pop("confirmation", None)
        payment.update(
            status="succeeded",
            paid=True,
            captured_at=_now(),
            income_amount={"value": f"{amount * Decimal('0.965'):.2f}", "currency": payment["amount"]["currency"]},
            refundable=True,
            refunded_amount={"value": "0.00", "currency": payment["amount"]["currency"]},
            payment_method={
                "type": "bank_card",
                "id": payment_id,
                "saved": False,
                "title": "Bank card *4444",
                "card": {
                    "first6": "555555",
                    "last4": "4444",
                    "expiry_month": "12",
                    "expiry_year": "2030",
                    "card_type": "MasterCard",
                },
            },
            authorization_details={"rrn": "603668680243", "auth_code": "000000", "three_d_secure": {"applied": False}},
        )
        if "receipt_registration" in payment:
            payment["receipt_registration"] = "succeeded"
        return payment

    def cancel(
        self, payment_id: str, reason: str = "expired_on_confirmation", party: str = "yoo_money"
    ) -> dict[str, Any]:
        """The payment is canceled. A succeeded payment stays succeeded."""
        payment = self.payments[payment_id]
        if payment["status"] in _FINAL:
            return payment
        payment.pop("confirmation", None)
        payment.update(status="canceled", paid=False, cancellation_details={"party": party, "reason": reason})
        if "receipt_registration" in payment:
            payment["receipt_registration"] = "canceled"
        return payment

    def notification(self, payment_id: str, event: str | None = None) -> dict[str, Any]:
        """The webhook body YooKassa would post about this payment now; ``event`` defaults to
        ``payment.<its status>`` (e.g. ``payment.succeeded``)."""
        payment = self.payments[payment_id]
        return {
            "type": "notification",
            "event": event or f"payment.{payment['status']}",
            "object": copy.deepcopy(payment),
        }

    # ---- HTTP -----------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        return await self._handle(request, self._do_create)

    async def _find(self, request: Request) -> Response:
        return await self._handle(request, self._do_find)

    async def _me(self, request: Request) -> Response:
        return await self._handle(request, self._do_me)

    async def _handle(self, request: Request, work: Callable[[Request, str, Any], Response]) -> Response:
        raw = await request.body()
        body = _parse_body(raw)
        account = self._account(request)
        client = request.scope.get("client")
        self.requests_log.append(
            LoggedRequest(
                request.method,
                request.url.path,
                {k.lower(): v for k, v in request.headers.items()},
                body,
                (str(client[0]), int(client[1])) if client else None,
                account,
            )
        )
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.status is not None and not fault.process:
            return _fault_response(fault)
        if fault is not None and not fault.process and await self._hang(request, fault.seconds):
            return Response(status_code=499)  # nobody is listening any more
        if account is None:
            response: Response = _error(
                401, "invalid_credentials", "Authentication by given credentials failed", "Authorization"
            )
        else:
            response = work(request, account, body)
        if fault is not None and fault.status is not None:
            return _fault_response(fault)  # processed, but the answer says "still processing"
        if fault is not None and fault.process:
            await self._hang(request, fault.seconds)
        return response

    async def _hang(self, request: Request, seconds: float) -> bool:
        abandoned = await hold_until_disconnect(request, seconds)
        self.abandoned += abandoned
        return abandoned

    def _account(self, request: Request) -> str | None:
        """The account whose credentials the request carries, checked on every request; None when
        they are missing or wrong."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        account_id, _, secret = decoded.partition(":")
        expected = self.credentials.get(account_id)
        if expected is None or not secrets.compare_digest(secret.encode(), expected.encode()):
            return None
        return account_id

    def _do_find(self, request: Request, account: str, body: Any) -> Response:
        payment_id = request.path_params["payment_id"]
        payment = self.payments.get(payment_id)
        if payment is None or self.owners.get(payment_id) != account:
            return _error(
                404, "not_found", "Incorrect payment_id. Payment doesn't exist or access denied.", "payment_id"
            )
        return JSONResponse(payment)

    def _do_me(self, request: Request, account: str, body: Any) -> Response:
        return JSONResponse(
            {
                "account_id": account,
                "test": self.test,
                "fiscalization_enabled": self.require_receipt,
                "payment_methods": ["bank_card", "yoo_money", "sbp"],
                "status": self.status,
            }
        )

    def _do_create(self, request: Request, account: str, body: Any) -> Response:
        key = request.headers.get("idempotence-key")
        if not key or len(key) > 64:
            return _error(
                400,
                "invalid_request",
                "Idempotence-Key header is missing or longer than 64 characters",
                "Idempotence-Key",
            )
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "Request body is not a JSON object")
        fingerprint = json.dumps(body, sort_keys=True, separators=(",", ":"))
        seen = self._idempotent.get((account, key))
        if seen is not None:
            if seen.fingerprint != fingerprint:
                return _error(400, "invalid_request", "Idempotence key duplicated", "Idempotence-Key")
            return JSONResponse(copy.deepcopy(seen.answer), status_code=seen.status)
        try:
            payment = self._new_payment(body, account)
        except _Invalid as exc:
            return _error(400, "invalid_request", exc.description, exc.parameter)
        self.payments[payment["id"]] = payment
        self.owners[payment["id"]] = account
        self.create_count += 1
        self._idempotent[(account, key)] = _Idempotent(fingerprint, 200, copy.deepcopy(payment))
        return JSONResponse(payment)

    def _new_payment(self, body: dict[str, Any], account: str) -> dict[str, Any]:
        amount = _amount(body.get("amount"), "amount")
        confirmation = body.get("confirmation")
        if confirmation is not None:
            if not isinstance(confirmation, dict) or confirmation.get("type") != "redirect":
                raise _Invalid("Only confirmation type redirect is supported", "confirmation.type")
            if not isinstance(confirmation.get("return_url"), str) or not confirmation["return_url"]:
                raise _Invalid("return_url is required for a redirect confirmation", "confirmation.return_url")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 128):
            raise _Invalid("description must be a string of up to 128 characters", "description")
        metadata = body.get("metadata", {})
        _check_metadata(metadata)
        receipt = body.get("receipt")
        if receipt is not None:
            _check_receipt(receipt, amount)
        elif self.require_receipt:
            raise _Invalid("Receipt is missing or illegal", "receipt")
        capture = body.get("capture", False)
        if not isinstance(capture, bool):
            raise _Invalid("capture must be a boolean", "capture")

        payment_id = _payment_id()
        payment: dict[str, Any] = {
            "id": payment_id,
            "status": "pending",
            "paid": False,
            "amount": {"value": f"{amount[0]:.2f}", "currency": amount[1]},
            "created_at": _now(),
            "metadata": dict(metadata) if isinstance(metadata, dict) else {},
            "recipient": {"account_id": account, "gateway_id": "1000001"},
            "refundable": False,
            "test": self.test,
        }
        if description:
            payment["description"] = description
        if confirmation is not None:
            payment["confirmation"] = {
                "type": "redirect",
                "confirmation_url": f"{self.confirmation_base}?orderId={payment_id}",
                "return_url": confirmation["return_url"],
            }
        if receipt is not None:
            payment["receipt_registration"] = "pending"
        return payment


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _amount(value: Any, where: str) -> tuple[Decimal, str]:
    if not isinstance(value, dict):
        raise _Invalid("amount is required", where)
    text = value.get("value")
    if not isinstance(text, str) or not _AMOUNT.match(text) or Decimal(text) <= 0:
        raise _Invalid(f"Invalid amount value {text!r}: a positive decimal string like 4990.00", f"{where}.value")
    currency = value.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise _Invalid(f"Invalid currency {currency!r}", f"{where}.currency")
    return Decimal(text), currency


def _check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict) or len(metadata) > 16:
        raise _Invalid("metadata is an object of at most 16 keys", "metadata")
    for key, value in metadata.items():
        if len(key) > 32 or not isinstance(value, str) or len(value) > 512:
            raise _Invalid(f"metadata key {key!r}: keys up to 32 characters, string values up to 512", "metadata")


def _check_receipt(receipt: Any, amount: tuple[Decimal, str]) -> None:
    if not isinstance(receipt, dict):
        raise _Invalid("Receipt is missing or illegal", "receipt")
    customer = receipt.get("customer")
    if not isinstance(customer, dict) or not (customer.get("email") or customer.get("phone")):
        raise _Invalid("Receipt customer needs an email or a phone", "receipt.customer")
    items = receipt.get("items")
    if not isinstance(items, list) or not items:
        raise _Invalid("Receipt needs items", "receipt.items")
    total = Decimal(0)
    for n, item in enumerate(items):
        where = f"receipt.items[{n}]"
        if not isinstance(item, dict):
            raise _Invalid("Receipt item is not an object", where)
        description = item.get("description")
        if not isinstance(description, str) or not 0 < len(description) <= 128:
            raise _Invalid("Receipt item description is 1-128 characters", f"{where}.description")
        try:
            quantity = Decimal(str(item.get("quantity")))
        except ArithmeticError:
            raise _Invalid("Receipt item quantity is a number", f"{where}.quantity") from None
        if not quantity.is_finite() or quantity <= 0:
            raise _Invalid("Receipt item quantity is a positive number", f"{where}.quantity")
        value, currency = _amount(item.get("amount"), f"{where}.amount")
        if currency != amount[1]:
            raise _Invalid("Receipt item currency differs from the payment's", f"{where}.amount.currency")
        vat_code = item.get("vat_code")
        if receipt.get("tax_system_code") is None and (
            isinstance(vat_code, bool) or not isinstance(vat_code, int) or not 1 <= vat_code <= 12
        ):
            raise _Invalid("Receipt item vat_code is required", f"{where}.vat_code")
        total += value * quantity
    if total != amount[0]:
        raise _Invalid(f"Receipt items sum to {total}, the payment is {amount[0]}", "receipt.items")


def _fault_response(fault: _Fault) -> Response:
    assert fault.status is not None
    if isinstance(fault.body, str):
        return Response(fault.body, status_code=fault.status, media_type="text/html")
    if fault.body is not None:
        return JSONResponse(fault.body, status_code=fault.status)
    code, description = _ERROR_CODES.get(fault.status, ("internal_server_error", "Something went wrong"))
    return _error(fault.status, code, description)


def _error(status: int, code: str, description: str, parameter: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "error", "id": str(uuid.uuid4()), "code": code, "description": description}
    if parameter:
        body["parameter"] = parameter
    return JSONResponse(body, status_code=status)


def _payment_id() -> str:
    """Shaped like YooKassa's ids: ``2419a771-000f-5000-9000-1edaf29243f2``."""
    hex_ = uuid.uuid4().hex
    return f"{hex_[:8]}-000f-5000-{secrets.choice('89ab')}000-{hex_[8:20]}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
