"""YooKassa: a small API client (one per credential set) and the payment gateway built on it."""

from adapters.yookassa.api import YooKassaApi
from adapters.yookassa.gateway import YooKassaPaymentGateway

__all__ = ["YooKassaApi", "YooKassaPaymentGateway"]
