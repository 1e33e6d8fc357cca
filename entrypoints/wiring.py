"""Building the handlers a registry lists from the parts the composition root has at hand.

The registries (``application.handlers.EVENT_HANDLERS``, ``application.delivery.OUTBOX_HANDLERS``)
name classes; each class's constructor says by its annotations which parts it needs. ``build``
fills them from ``parts`` (keyed by type), so adding a handler never touches the wiring unless
it needs a part nobody offered, and then it fails at start-up, naming the part."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class WiringError(Exception):
    pass


def build(cls: type[T], parts: Mapping[Any, object]) -> T:
    hints = typing.get_type_hints(cls.__init__)
    arguments: dict[str, object] = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        wanted = hints.get(name)
        if wanted in parts:
            arguments[name] = parts[wanted]
        elif parameter.default is parameter.empty:
            raise WiringError(f"{cls.__name__} needs {name}: {wanted}, which the composition root does not offer")
    return cls(**arguments)
