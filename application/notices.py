"""Typed notices: what the core tells people, as data.

The core queues a notice (which event, with its values) and never a text. An adapter renders it
in the recipient's language and in the channel's format (a Telegram message with buttons, an
email with a subject and HTML) from the message catalog, under the catalog key ``KIND``.

A notice travels through the outbox as JSON (``encode_notice`` / ``decode_notice``): its fields
may be ``str``, ``int``, ``bool``, ``Money`` or an aware ``datetime``, each optional.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Union

from domain.errors import InvalidValue
from domain.money import Currency, Money


@dataclass(frozen=True, slots=True)
class Notice:
    KIND: ClassVar[str] = ""

    def values(self) -> dict[str, object]:
        """The notice's fields by name, as the renderer fills them in."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


_REGISTRY: dict[str, type[Notice]] = {}


def notice(cls: type[Notice]) -> type[Notice]:
    """Registers a notice class under its ``KIND`` (unique), so the outbox can read it back."""
    if not cls.KIND or cls.KIND in _REGISTRY:
        raise ValueError(f"notice kind {cls.KIND!r} is empty or taken")
    _REGISTRY[cls.KIND] = cls
    return cls


def notice_kinds() -> dict[str, type[Notice]]:
    return dict(_REGISTRY)


# --- the notices --------------------------------------------------------------------------------


@notice
@dataclass(frozen=True, slots=True)
class AccessGranted(Notice):
    """To the buyer, by Telegram (with a join button) and by email: their one-time link."""

    KIND: ClassVar[str] = "access.granted"
    title: str
    link: str
    expires: datetime


@notice
@dataclass(frozen=True, slots=True)
class PaymentCanceledNotice(Notice):
    """To the buyer: the payment did not go through."""

    KIND: ClassVar[str] = "payment.canceled"


@notice
@dataclass(frozen=True, slots=True)
class ReferrerCredited(Notice):
    """To a referrer: a sale they brought earned them ``amount``; ``balance`` after it."""

    KIND: ClassVar[str] = "referrer.credited"
    amount: Money
    balance: Money


@notice
@dataclass(frozen=True, slots=True)
class SaleNotice(Notice):
    """To every admin: a sale."""

    KIND: ClassVar[str] = "admin.sale"
    buyer: str
    telegram_id: int
    amount: Money
    referrer: str  # "—" when nobody referred the buyer


@notice
@dataclass(frozen=True, slots=True)
class DuplicatePaymentNotice(Notice):
    """To every admin: a customer paid twice; refund the second payment."""

    KIND: ClassVar[str] = "admin.duplicate_payment"
    buyer: str
    telegram_id: int
    payment_id: str
    amount: Money


@notice
@dataclass(frozen=True, slots=True)
class PaymentMismatchNotice(Notice):
    """To every admin: a payment that does not match its purchase was refused."""

    KIND: ClassVar[str] = "admin.payment_mismatch"
    payment_id: str
    purchase_id: str
    amount: Money
    price: Money


@notice
@dataclass(frozen=True, slots=True)
class LinkSharedNotice(Notice):
    """To every admin: somebody joined the course chat by a buyer's link and was removed."""

    KIND: ClassVar[str] = "admin.link_shared"
    telegram_id: int
    owner: str
    owner_id: str


# --- the outbox's JSON form ---------------------------------------------------------------------


def encode_notice(value: Notice) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, item in value.values().items():
        if isinstance(item, Money):
            data[name] = {"minor": item.minor, "currency": item.currency.code}
        elif isinstance(item, datetime):
            if item.tzinfo is None:
                raise InvalidValue(f"{value.KIND}.{name}: a time in a notice carries a time zone")
            data[name] = item.isoformat()
        elif item is None or isinstance(item, str | int | bool):
            data[name] = item
        else:
            raise InvalidValue(f"{value.KIND}.{name}: cannot carry a {type(item).__name__}")
    return {"kind": value.KIND, "data": data}


def decode_notice(payload: object) -> Notice:
    """The notice ``encode_notice`` made; ``InvalidValue`` for anything else."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise InvalidValue(f"not an encoded notice: {payload!r}")
    cls = _REGISTRY.get(str(payload.get("kind")))
    if cls is None:
        raise InvalidValue(f"unknown notice kind {payload.get('kind')!r}")
    hints = typing.get_type_hints(cls)
    data: dict[str, Any] = payload["data"]
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            raise InvalidValue(f"{cls.KIND}: missing {field.name}")
        values[field.name] = _decode(cls.KIND, field.name, hints[field.name], data[field.name])
    return cls(**values)


def _decode(kind: str, name: str, hint: Any, raw: Any) -> Any:
    options = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
    if raw is None:
        if type(None) in options:
            return None
        raise InvalidValue(f"{kind}.{name} may not be empty")
    for option in options:
        if option is Money and isinstance(raw, dict):
            return Money(raw["minor"], Currency(raw["currency"]))
        if option is datetime and isinstance(raw, str):
            return datetime.fromisoformat(raw)
        if option is bool and isinstance(raw, bool):
            return raw
        if option is int and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if option is str and isinstance(raw, str):
            return raw
    raise InvalidValue(f"{kind}.{name}: {raw!r} is not a {hint}")
