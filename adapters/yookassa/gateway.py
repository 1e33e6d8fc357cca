"""YooKassa payments over ``YooKassaApi`` (``httpx``); the ``yookassa`` SDK only validates.

The request body is shaped and rounded here (amounts as exact two-decimal strings from ``Money``)
and is what goes on the wire. Before sending, it goes through the SDK's public request model
(``yookassa.domain.request.PaymentRequest(body).validate()``), and the model's own serialisation
(``dict(model)``) must say the same thing as our body: the SDK rounds amounts through ``float``
and drops keys it does not know without a word, so a disagreement means our body is wrong and it
is refused before sending. Answers are read by our own strict parsing (``_payment_from``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from yookassa.domain.request import PaymentRequest as SdkPaymentRequest

from adapters.yookassa.api import DEFAULT_API_URL, YooKassaApi, check_idempotency_key
from application.ports.payment_gateway import (
    Payment,
    PaymentGateway,
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
_DESCRIPTION_LIMIT = 128  # YooKassa's limit for a payment's and a receipt item's description


class YooKassaPaymentGateway(PaymentGateway):
    """``PaymentGateway`` over the YooKassa API v3 with the shop id and secret key.

    ``timeout`` bounds every connect, read, write and pool wait; a whole call (repeats of a 202
    answer included) is abandoned after ``2 * timeout``. Pass ``api=`` to share or inject a client
    (then ``shop_id``/``secret_key``/``api_url``/``timeout`` are not used and ``aclose`` leaves it
    open); otherwise the gateway makes its own and ``aclose`` closes it."""

    def __init__(
        self,
        shop_id: str = "",
        secret_key: str = "",
        *,
        api_url: str = DEFAULT_API_URL,
        vat_code: int = 1,
        timeout: float = 15.0,
        api: YooKassaApi | None = None,
    ) -> None:
        if isinstance(vat_code, bool) or not isinstance(vat_code, int) or not 1 <= vat_code <= 12:
            raise ValueError(f"a YooKassa vat_code is 1-12, got {vat_code!r}")
        if api is not None and shop_id and shop_id != api.account_id:
            raise ValueError(f"shop id {shop_id!r} differs from the injected client's {api.account_id!r}")
        self._owns_api = api is None
        self._api = api if api is not None else YooKassaApi(shop_id, secret_key, api_url=api_url, timeout=timeout)
        self._vat_code = vat_code

    def __repr__(self) -> str:  # never shows the secret key
        return f"{type(self).__name__}({self._api!r})"

    async def create_payment(self, request: PaymentRequest) -> Payment:
        key = check_idempotency_key(request.idempotency_key)
        body = self.payment_body(request)
        _validate_with_sdk(body)
        raw = await self._api.request("POST", _PAYMENTS, json=body, idempotency_key=key)
        return _payment_from(raw)

    async def fetch_payment(self, payment_id: str) -> Payment:
        if not isinstance(payment_id, str) or not _PAYMENT_ID.fullmatch(payment_id):
            raise PaymentNotFound(f"not a YooKassa payment id: {payment_id!r}")
        raw = await self._api.request("GET", f"{_PAYMENTS}/{payment_id}", not_found=PaymentNotFound)
        payment = _payment_from(raw)
        if payment.payment_id != payment_id:
            raise PaymentGatewayUnavailable(f"asked YooKassa for payment {payment_id}, got {payment.payment_id}")
        return payment

    async def aclose(self) -> None:
        """Closes the API client if this gateway made it."""
        if self._owns_api:
            await self._api.aclose()

    def payment_body(self, request: PaymentRequest) -> dict[str, Any]:
        """The JSON body of ``POST /payments`` for ``request``, exactly as it is sent."""
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
                        "amount": dict(amount),
                        "vat_code": self._vat_code,
                        "payment_subject": "service",
                        "payment_mode": "full_payment",
                    }
                ],
            }
        return body


def _validate_with_sdk(body: Mapping[str, Any]) -> None:
    """Runs ``body`` through the SDK's public request model; refuses it if the SDK does, or if
    the SDK's reading of it differs from ours (a rounded amount, a dropped key)."""
    try:
        model = SdkPaymentRequest(dict(body))
        model.validate()
        seen = dict(model)
    except (ValueError, TypeError, ArithmeticError, LookupError, AttributeError) as exc:
        raise PaymentGatewayRejected(f"YooKassa: create payment: invalid request: {exc}") from exc
    difference = _difference(body, seen, "")
    if difference is not None:
        raise PaymentGatewayRejected(f"YooKassa: create payment: the SDK reads the request differently at {difference}")


def _difference(ours: object, sdk: object, where: str) -> str | None:
    """The first place where the SDK's serialisation ``sdk`` disagrees with ``ours``; None if they
    agree. The SDK adds empty defaults (``transfers: []``) and writes numbers its own way
    (``"1.0"`` for ``"1.00"``): those are not disagreements."""
    if isinstance(ours, Mapping):
        if not isinstance(sdk, Mapping):
            return where or "the body"
        extra = [k for k, v in sdk.items() if k not in ours and v not in (None, [], {})]
        if extra:
            return f"{where}.{extra[0]}" if where else str(extra[0])
        for key, value in ours.items():
            found = _difference(value, sdk.get(key), f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
        return None
    if isinstance(ours, list):
        if not isinstance(sdk, list) or len(sdk) != len(ours):
            return where
        for n, (mine, theirs) in enumerate(zip(ours, sdk, strict=True)):
            found = _difference(mine, theirs, f"{where}[{n}]")
            if found is not None:
                return found
        return None
    if isinstance(ours, str) and isinstance(sdk, str) and ours != sdk:
        return None if _same_number(ours, sdk) else where
    return None if type(ours) is type(sdk) and ours == sdk else where


def _same_number(a: str, b: str) -> bool:
    try:
        return Decimal(a) == Decimal(b)
    except InvalidOperation:
        return False


def _payment_from(raw: object) -> Payment:
    """The port's payment from YooKassa's JSON; an answer we cannot read is the provider's failure."""
    try:
        if not isinstance(raw, Mapping):
            raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
        payment_id = raw.get("id")
        if not isinstance(payment_id, str) or not _PAYMENT_ID.fullmatch(payment_id):
            raise ValueError(f"bad payment id {payment_id!r}")
        status = PaymentStatus(_text(raw.get("status")))
        amount = raw.get("amount")
        if not isinstance(amount, Mapping):
            raise ValueError("no amount")
        value, currency = amount.get("value"), amount.get("currency")
        if not isinstance(value, str) or not isinstance(currency, str):
            raise ValueError(f"bad amount {dict(amount)!r}")
        money = Money.parse(value, Currency(currency))
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


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _purchase_id(metadata: object) -> PurchaseId | None:
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get("purchase_id")
    if not isinstance(value, str):
        return None
    try:
        return PurchaseId.parse(value)
    except DomainError:
        return None
