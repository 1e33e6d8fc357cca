"""Email through Resend's HTTP API (``POST /emails``) with ``httpx``; no Resend SDK."""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

import httpx

from application.ports.messaging import DeliveryError, EmailSender, OutgoingEmail

_KEY_LIMIT = 256  # Resend's limit on an Idempotency-Key
_KEY_SAFE = re.compile(r"[\x21-\x7e]+")  # visible ASCII: safe in an HTTP header as it is
_PERMANENT_STATUSES = frozenset({400, 422})
# 409 comes in two kinds: a key reused with another body cannot succeed, a concurrent duplicate can.
_PERMANENT_409 = "invalid_idempotent_request"


def idempotency_header(key: str) -> str:
    """``key`` as sent: unchanged when it is visible ASCII of at most 256 characters, otherwise a
    deterministic SHA-256 digest of it (so a retry sends the same header)."""
    if len(key) <= _KEY_LIMIT and _KEY_SAFE.fullmatch(key):
        return key
    return "sha256-" + hashlib.sha256(key.encode("utf-8")).hexdigest()


class ResendEmailSender(EmailSender):
    """``EmailSender`` over Resend. ``timeout`` bounds each network operation and the whole call.

    Retrying cannot help with a 400/422 (the message itself is refused) or a key reused with a
    different body: those are permanent. Rate limits, server errors, timeouts, connection errors,
    and 401/403 (a key that an operator can fix) are not."""

    def __init__(
        self,
        api_key: str,
        sender: str,
        *,
        api_url: str = "https://api.resend.com",
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not api_key or not sender:
            raise ValueError("Resend needs an API key and a sender address")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._api_key = api_key
        self._sender = sender
        self._url = api_url.rstrip("/") + "/emails"
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:  # never shows the API key
        return f"{type(self).__name__}(sender={self._sender!r}, url={self._url!r})"

    async def send(self, email: OutgoingEmail, idempotency_key: str) -> None:
        if not idempotency_key:  # every empty key would be the same key: later emails would vanish
            raise DeliveryError("an email needs a non-empty idempotency key", permanent=True)
        payload = {
            "from": self._sender,
            "to": [str(email.to)],
            "subject": email.subject,
            "html": email.html,
            "text": email.text,
        }
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Idempotency-Key": idempotency_header(idempotency_key),
        }
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(self._url, json=payload, headers=headers, timeout=self._timeout)
        except TimeoutError as exc:
            raise DeliveryError(f"Resend: no answer within {self._timeout:g} s") from exc
        except httpx.HTTPError as exc:  # connection refused or reset, protocol errors, timeouts
            raise DeliveryError(f"Resend: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return
        raise _delivery_error(response)

    async def aclose(self) -> None:
        """Closes the HTTP client if this sender made it."""
        if self._owns_client:
            await self._client.aclose()


def _delivery_error(response: httpx.Response) -> DeliveryError:
    status = response.status_code
    body = _json(response)
    name = str(body.get("name", "")) if body else ""
    message = str(body.get("message", "")) if body else response.text[:200]
    detail = f"Resend HTTP {status}" + (f" {name}" if name else "") + (f": {message}" if message else "")
    if status in _PERMANENT_STATUSES or (status == 409 and name == _PERMANENT_409):
        return DeliveryError(detail, permanent=True)
    if status in (401, 403):
        return DeliveryError(f"{detail} (check the Resend API key and the sender's domain; the email stays queued)")
    if status == 429:
        retry_after = response.headers.get("retry-after")
        return DeliveryError(detail + (f" (retry after {retry_after} s)" if retry_after else ""))
    return DeliveryError(detail)


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
