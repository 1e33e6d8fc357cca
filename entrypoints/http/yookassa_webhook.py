"""``POST /webhooks/yookassa``: YooKassa's notifications (not signed; see ConfirmPayment)."""

from __future__ import annotations

import logging
from typing import Literal

from dishka import FromDishka
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette_dishka import inject

from application.ports.payment_gateway import PaymentGatewayRejected, PaymentGatewayUnavailable
from application.use_cases.confirm_payment import ConfirmPayment
from entrypoints.http.body import BadBody, BodyTooLarge, read_json
from entrypoints.http.client_address import SourcePolicy

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["notification"]
    event: str = Field(pattern=r"^[a-z_]{1,32}\.[a-z_]{1,32}$")
    object: _Object


def _reply(status: int, **body: object) -> JSONResponse:
    return JSONResponse(body, status_code=status)


@inject
async def yookassa_webhook(
    request: Request, sources: FromDishka[SourcePolicy], confirm: FromDishka[ConfirmPayment]
) -> JSONResponse:
    peer = request.client.host if request.client else None
    if not sources.allows(peer, request.headers.get("x-forwarded-for")):
        log.warning(
            "yookassa webhook refused from %s (x-forwarded-for %r)", peer, request.headers.get("x-forwarded-for")
        )
        return _reply(403, error="forbidden source")
    try:
        notification = Notification.model_validate(await read_json(request, MAX_BODY))
    except BodyTooLarge as exc:
        return _reply(413, error=str(exc))
    except (BadBody, ValidationError) as exc:
        return _reply(400, error="malformed notification", detail=str(exc)[:500])
    if not notification.event.startswith("payment."):
        return _reply(200, outcome="ignored", event=notification.event)
    try:
        outcome = await confirm(notification.object.id)
    except PaymentGatewayUnavailable as exc:
        log.warning("yookassa unreachable while confirming %s: %s", notification.object.id, exc)
        return _reply(503, error="payment provider unreachable, deliver again")
    except PaymentGatewayRejected as exc:
        log.error("yookassa refused our re-fetch of %s: %s", notification.object.id, exc)
        return _reply(503, error="payment provider refused the re-fetch, deliver again")
    if outcome.queued_messages:
        worker = getattr(request.app.state, "outbox_worker", None)
        if worker is not None:
            worker.wake()
    return _reply(200, outcome=outcome.value)
