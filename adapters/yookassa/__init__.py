"""YooKassa: the payment gateway."""

from adapters.yookassa.gateway import YooKassaPaymentGateway

__all__ = ["YooKassaPaymentGateway"]
