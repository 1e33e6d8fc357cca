from __future__ import annotations

from application.ports.payment_gateway import PaymentGateway, PaymentNotFound
from application.services.payments import PaymentOutcome, PaymentRecorder


class ConfirmPayment:
    """A payment notification arrived. Notifications are not signed, so its body is not trusted:
    the payment is fetched from the provider by id and only that answer is acted on. Raises
    ``PaymentGatewayUnavailable`` when the provider cannot be asked (the sender should retry)."""

    def __init__(self, gateway: PaymentGateway, payments: PaymentRecorder) -> None:
        self._gateway = gateway
        self._payments = payments

    async def __call__(self, payment_id: str) -> PaymentOutcome:
        try:
            payment = await self._gateway.fetch_payment(payment_id)
        except PaymentNotFound:
            return PaymentOutcome.NOT_OURS
        return await self._payments.record(payment)
