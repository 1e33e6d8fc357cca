"""A loopback stand-in of Resend's ``POST /emails``, after Resend's public documentation.

Serve ``ResendStandIn(...).app`` with ``tests.standins.server.serve_asgi`` and point the sender at
the base URL it yields.

* ``Authorization: Bearer <api_key>``: missing → 401 ``missing_api_key``, wrong → 403
  ``invalid_api_key``.
* ``Idempotency-Key`` (optional, 1-256 characters, else 400 ``invalid_idempotency_key``): the same
  key with the same body answers the first email's id and stores nothing new; the same key with
  another body is a 409 ``invalid_idempotent_request``. Keys live as long as the stand-in.
* The body is validated: ``from`` (an address, optionally ``Name <address>``), ``to`` (an address
  or a list of 1-50), a non-empty ``subject`` and ``html`` or ``text``; anything wrong is a 422
  ``validation_error``.
* Errors look like Resend's: ``{"statusCode": 422, "name": "validation_error", "message": "..."}``.

``GET /domains`` lists ``domains`` (``{"object": "list", "data": [...]}``, each with ``id``,
``name``, ``status``, ``region``, ``created_at``), with the same authentication; a key made
``sending_only`` gets Resend's 401 ``restricted_api_key``, as a sending-access key does.

Faults (``fail_next``, ``hang_next``) hit the next requests before anything else. All state lives
in the event loop that serves the app: call the control methods from that loop.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.server import hold_until_disconnect

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_NAMED_ADDRESS = re.compile(r"^[^<>]*<([^<>]+)>$")
_ERROR_NAMES = {
    400: "invalid_request",
    401: "missing_api_key",
    403: "invalid_api_key",
    404: "not_found",
    409: "concurrent_idempotent_requests",
    422: "validation_error",
    429: "rate_limit_exceeded",
    500: "internal_server_error",
}


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON; the raw text when it is not JSON; None when empty


@dataclass(frozen=True)
class StoredEmail:
    """An email Resend accepted."""

    id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    html: str | None
    text: str | None
    idempotency_key: str | None
    body: dict[str, Any] = field(repr=False)


@dataclass
class _Fault:
    status: int | None = None  # an error answer; None for a hang
    body: str | dict[str, Any] | None = None
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Idempotent:
    fingerprint: str
    email_id: str


class _Invalid(Exception):
    pass


class ResendStandIn:
    """Resend's email endpoint in memory, behind a Starlette app (``.app``).

    Inspect ``emails`` (accepted emails, in order), ``requests_log`` (every request, faults
    included) and ``abandoned`` (hung requests whose client gave up and disconnected)."""

    def __init__(self, api_key: str = "re_test_key") -> None:
        self.api_key = api_key
        self.emails: list[StoredEmail] = []
        self.requests_log: list[LoggedRequest] = []
        self.abandoned = 0
        self._idempotent: dict[str, _Idempotent] = {}
        self._faults: deque[_Fault] = deque()
        self.domains: list[dict[str, Any]] = [
            {
                "id": str(uuid.uuid4()),
                "name": "example.com",
                "status": "verified",
                "region": "us-east-1",
                "created_at": "2026-01-01T00:00:00.000Z",
            }
        ]
        self.sending_only = False  # the key may only send emails (GET /domains is refused)
        self.app = Starlette(
            routes=[
                Route("/emails", self._send, methods=["POST"]),
                Route("/domains", self._list_domains, methods=["GET"]),
            ]
        )

    def fail_next(
        self,
        status_code: int,
        times: int = 1,
        *,
        body: str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests get ``status_code`` without being processed. ``body``: None
        for Resend's JSON error, a string for a text/html page, a dict for any JSON. A 429 carries
        ``retry-after: 1`` unless ``headers`` say otherwise."""
        extra = dict(headers or {})
        if status_code == 429:
            extra.setdefault("retry-after", "1")
        self._faults.extend(_Fault(status=status_code, body=body, headers=extra) for _ in range(times))

    def hang_next(self, seconds: float = 3600.0, times: int = 1) -> None:
        """The next ``times`` requests are accepted and not answered for ``seconds`` or until the
        client disconnects (counted in ``abandoned``; the email is then not sent)."""
        self._faults.extend(_Fault(seconds=seconds) for _ in range(times))

    async def _send(self, request: Request) -> Response:
        raw = await request.body()
        body = _parse_body(raw)
        self.requests_log.append(
            LoggedRequest(request.method, request.url.path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.status is not None:
            return _fault_response(fault)
        if fault is not None and await self._hang(request, fault.seconds):
            return Response(status_code=499)  # nobody is listening any more

        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "missing_api_key", "Missing API key in the authorization header")
        if not secrets.compare_digest(token.encode(), self.api_key.encode()):
            return _error(403, "invalid_api_key", "API key is invalid")
        key = request.headers.get("idempotency-key")
        if key is not None and not 1 <= len(key) <= 256:
            return _error(400, "invalid_idempotency_key", "The key must be between 1-256 chars")
        if not isinstance(body, dict):
            return _error(422, "validation_error", "The request body must be a JSON object")
        fingerprint = json.dumps(body, sort_keys=True, separators=(",", ":"))
        if key is not None and key in self._idempotent:
            seen = self._idempotent[key]
            if seen.fingerprint != fingerprint:
                return _error(
                    409, "invalid_idempotent_request", "Same idempotency key used with a different request payload"
                )
            return JSONResponse({"id": seen.email_id})
        try:
            email = _email(body, key)
        except _Invalid as exc:
            return _error(422, "validation_error", str(exc))
        self.emails.append(email)
        if key is not None:
            self._idempotent[key] = _Idempotent(fingerprint, email.id)
        return JSONResponse({"id": email.id})

    async def _list_domains(self, request: Request) -> Response:
        self.requests_log.append(
            LoggedRequest(request.method, request.url.path, {k.lower(): v for k, v in request.headers.items()}, None)
        )
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.status is not None:
            return _fault_response(fault)
        if fault is not None and await self._hang(request, fault.seconds):
            return Response(status_code=499)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "missing_api_key", "Missing API key in the authorization header")
        if not secrets.compare_digest(token.encode(), self.api_key.encode()):
            return _error(403, "invalid_api_key", "API key is invalid")
        if self.sending_only:
            return _error(401, "restricted_api_key", "This API key is restricted to only send emails")
        return JSONResponse({"object": "list", "has_more": False, "data": self.domains})

    async def _hang(self, request: Request, seconds: float) -> bool:
        abandoned = await hold_until_disconnect(request, seconds)
        self.abandoned += abandoned
        return abandoned


def _email(body: dict[str, Any], key: str | None) -> StoredEmail:
    sender = body.get("from")
    if not isinstance(sender, str) or not _is_address(sender):
        raise _Invalid(
            "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."
        )
    to = body.get("to")
    recipients = [to] if isinstance(to, str) else to
    if not isinstance(recipients, list) or not 1 <= len(recipients) <= 50:
        raise _Invalid("Invalid `to` field: one address or a list of 1-50 addresses")
    if not all(isinstance(r, str) and _is_address(r) for r in recipients):
        raise _Invalid(
            "Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."
        )
    subject = body.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        raise _Invalid("Missing `subject` field.")
    html, text = body.get("html"), body.get("text")
    if not (isinstance(html, str) and html) and not (isinstance(text, str) and text):
        raise _Invalid("Missing `html` or `text` field.")
    return StoredEmail(
        id=str(uuid.uuid4()),
        sender=sender,
        to=tuple(recipients),
        subject=subject,
        html=html if isinstance(html, str) else None,
        text=text if isinstance(text, str) else None,
        idempotency_key=key,
        body=body,
    )


def _is_address(value: str) -> bool:
    named = _NAMED_ADDRESS.match(value.strip())
    return bool(_ADDRESS.match(named.group(1).strip() if named else value.strip()))


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _fault_response(fault: _Fault) -> Response:
    assert fault.status is not None
    if isinstance(fault.body, str):
        return Response(fault.body, status_code=fault.status, media_type="text/html", headers=fault.headers)
    if fault.body is not None:
        return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
    name = _ERROR_NAMES.get(fault.status, "application_error")
    response = _error(fault.status, name, f"Simulated {name}")
    response.headers.update(fault.headers)
    return response


def _error(status: int, name: str, message: str) -> JSONResponse:
    return JSONResponse({"statusCode": status, "name": name, "message": message}, status_code=status)
