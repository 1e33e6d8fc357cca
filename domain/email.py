from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidValue

# Pragmatic address check: one @, a dotted domain with a 2+ letter TLD, no spaces, double quotes
# or angle brackets; an apostrophe is allowed in the local part (o'neil@example.com).
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


@dataclass(frozen=True, slots=True)
class Email:
    """A deliverable-looking address, kept lower-cased in its domain part."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or len(self.value) > 254 or not _EMAIL.fullmatch(self.value):
            raise InvalidValue(f"not an email address: {self.value!r}")
        local, _, domain = self.value.rpartition("@")
        if len(local) > 64 or local.startswith(".") or local.endswith(".") or ".." in local:
            raise InvalidValue(f"not an email address: {self.value!r}")
        object.__setattr__(self, "value", f"{local}@{domain.lower()}")

    @classmethod
    def parse(cls, text: str) -> Email:
        return cls(text.strip() if isinstance(text, str) else text)

    def __str__(self) -> str:
        return self.value
