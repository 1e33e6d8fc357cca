"""A small asynchronous client of the YooKassa API v3 over ``httpx``: one per credential set.

It knows HTTP Basic auth, the ``Idempotence-Key`` header, deadlines, YooKassa's 202 "accepted,
still processing" answer and how to turn every failure into the payment port's errors. It knows
nothing about payments: the gateways built on it (payments today; payouts and refunds, with the
payout gateway's own agent id and secret, later) shape the requests and read the answers.

Nothing here is process-global: each ``YooKassaApi`` owns its ``httpx.AsyncClient`` (a keep-alive
connection pool), its credentials and its base URL.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import httpx

from application.ports.payment_gateway import (
    PaymentGatewayError,
    PaymentGatewayRejected,
    PaymentGatewayUnavailable,
)

DEFAULT_API_URL = "https://api.yookassa.ru/v3"
_KEY_LIMIT = 64  # YooKassa's limit on an Idempotence-Key
_KEY = re.compile(rf"[\x21-\x7e]{{1,{_KEY_LIMIT}}}")  # visible ASCII: safe in a header as it is
_PATH = re.compile(r"(/[A-Za-z0-9_\-.]+)+")  # "/payments/<id>": no query, no fragment, no "//"
_REJECTED_STATUSES = frozenset({400, 401, 403, 405, 409, 410, 415, 422})
_BACKOFF_FIRST = 0.2  # seconds before the first repeat of a 202 that names no ``retry_after``
_BACKOFF_MAX = 3.0
_RETRY_AFTER_MIN = 0.01  # seconds: a ``retry_after`` of 0 must not spin


def check_idempotency_key(key: object) -> str:
    """``key`` when YooKassa accepts it as an ``Idempotence-Key`` (1-64 visible ASCII characters);
    ``PaymentGatewayRejected`` otherwise. A key is never invented or rewritten here: a retry with
    another key would be a second payment."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise PaymentGatewayRejected(f"an idempotency key is 1-{_KEY_LIMIT} visible ASCII characters, got {key!r}")
    return key


class YooKassaApi:
    """Authenticated calls to one YooKassa account (a shop, or a payout gateway).

    ``timeout`` bounds each connect, read, write and wait for a pooled connection; ``deadline``
    (``2 * timeout`` by default) bounds a whole ``request``, repeats of a 202 answer included.
    ``transport`` is for tests. Call ``aclose()`` when done."""

    def __init__(
        self,
        account_id: str,
        secret_key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 15.0,
        deadline: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not account_id or not secret_key:
            raise ValueError("YooKassa needs an account id and a secret key")
        if timeout <= 0 or (deadline is not None and deadline <= 0):
            raise ValueError("timeout and deadline must be positive")
        self._account_id = account_id
        self._api_url = api_url.rstrip("/")
        self._deadline = deadline if deadline is not None else 2 * timeout
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(account_id, secret_key),
            timeout=httpx.Timeout(timeout),
            headers={"Accept": "application/json", "User-Agent": "aimpay"},
            follow_redirects=False,
            trust_env=False,  # no proxy or netrc credentials picked up from the environment
            transport=transport,
        )

    def __repr__(self) -> str:  # never shows the secret key
        return f"{type(self).__name__}(account_id={self._account_id!r}, api_url={self._api_url!r})"

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def deadline(self) -> float:
        return self._deadline

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        params: Mapping[str, str] | None = None,
        not_found: type[PaymentGatewayError] = PaymentGatewayRejected,
    ) -> Any:
        """The parsed JSON of YooKassa's 200 answer to ``method path``.

        Every POST needs ``idempotency_key`` (refused before sending otherwise); a 202 is repeated
        with the same key and body until it settles or the deadline passes. Raises only the port's
        errors: ``not_found`` for a 404, ``PaymentGatewayRejected`` for a refused request,
        ``PaymentGatewayUnavailable`` for anything that may go better later."""
        method = method.upper()
        if not _PATH.fullmatch(path) or "/../" in f"{path}/" or "/./" in f"{path}/":
            raise ValueError(f"not an API path: {path!r}")
        what = f"{method} {path}"
        headers: dict[str, str] = {}
        if idempotency_key is not None or method == "POST":
            headers["Idempotence-Key"] = check_idempotency_key(idempotency_key)
        if self._client.is_closed:
            raise PaymentGatewayUnavailable(f"YooKassa: {what}: the client is closed")
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + self._deadline
        attempt = 0
        try:
            async with asyncio.timeout_at(ends_at):
                while True:
                    response = await self._client.request(
                        method, self._api_url + path, json=json, params=params, headers=headers
                    )
                    if response.status_code != 202:
                        break
                    # Accepted, still processing: ask again with the same key and body.
                    wait = _retry_after(response, attempt)
                    if loop.time() + wait >= ends_at:
                        raise PaymentGatewayUnavailable(
                            f"YooKassa: {what}: HTTP 202 (still processing) after {attempt + 1} attempt(s);"
                            f" no final answer within {self._deadline:g} s"
                        )
                    attempt += 1
                    await asyncio.sleep(wait)
        except TimeoutError as exc:
            raise PaymentGatewayUnavailable(f"YooKassa: {what}: no answer within {self._deadline:g} s") from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            # refused or reset connections, socket timeouts, broken HTTP
            raise PaymentGatewayUnavailable(f"YooKassa: {what}: no answer: {type(exc).__name__}: {exc}") from exc
        return _answer(what, response, not_found)

    async def aclose(self) -> None:
        """Closes the connection pool; later requests fail as unavailable."""
        await self._client.aclose()


def _retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before repeating a 202: its ``retry_after`` (milliseconds), else a backoff."""
    body = _json(response)
    value = body.get("retry_after") if isinstance(body, Mapping) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return max(float(value) / 1000, _RETRY_AFTER_MIN)
    return float(min(_BACKOFF_FIRST * 2**attempt, _BACKOFF_MAX))


def _answer(what: str, response: httpx.Response, not_found: type[PaymentGatewayError]) -> Any:
    status = response.status_code
    body = _json(response)
    if status == 200:
        if body is _NOT_JSON:
            raise PaymentGatewayUnavailable(f"YooKassa: {what}: HTTP 200 with a body that is not JSON")
        return body
    if not isinstance(body, Mapping):  # a proxy's page, not YooKassa's answer
        raise PaymentGatewayUnavailable(f"YooKassa: {what}: HTTP {status} without a JSON error{_snippet(response)}")
    message = f"YooKassa: {what}: HTTP {status}{_error_detail(body)}"
    if status == 404:
        raise not_found(message)
    if status in _REJECTED_STATUSES:
        raise PaymentGatewayRejected(message)
    raise PaymentGatewayUnavailable(message)  # 429, 5xx, and anything unexpected


_NOT_JSON = object()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # not JSON, or not UTF-8
        return _NOT_JSON


def _error_detail(body: Mapping[str, Any]) -> str:
    parts = [str(body[k]) for k in ("code", "description", "parameter") if body.get(k)]
    if body.get("id"):
        parts.append(f"error id {body['id']}")
    return ": " + "; ".join(parts) if parts else ""


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text[:120].split())
    return f": {text!r}" if text else ""
